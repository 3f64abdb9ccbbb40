-- wrk script: POST /api/track-usage with a valid key and a distinct report_id per request.
-- Arguments (after --): API key, number of GPUs, a run prefix that keeps report ids unique.
local key, gpus, prefix
local counter = 0
local template

function init(args)
  key = args[1]
  gpus = tonumber(args[2])
  prefix = args[3]
  local entries = {}
  for i = 0, gpus - 1 do
    entries[#entries + 1] = string.format(
      '{"gpu_index":%d,"uuid":"GPU-bench-%d","gpu_name":"NVIDIA A100-SXM4-40GB","gpu_util":%d,' ..
      '"util_max":%d,"idle_fraction":%s,"mem_used":1200,"mem_total":40960,"temperature":34,' ..
      '"power_w":55.1,"power_limit_w":400,"cost_per_hour":2.74,' ..
      '"processes":[{"pid":4121,"name":"python","used_mem":1100}]}',
      i, i, (i % 2) * 80 + 3, (i % 2) * 80 + 9, (i % 2 == 0) and "1.0" or "0.0")
  end
  template = '{"report_id":"%s","agent":{"id":"bench","hostname":"bench-host","version":"1.0.0"},' ..
             '"gpu_data":[' .. table.concat(entries, ",") .. ']}'
end

function request()
  counter = counter + 1
  local body = string.format(template, prefix .. ":" .. counter)
  return wrk.format("POST", "/api/track-usage",
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
