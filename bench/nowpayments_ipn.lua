-- wrk script: POST /payment/nowpayments/webhook with pre-signed IPNs, one distinct payment per request.
-- Argument (after --): a file of lines "SIGNATURE<TAB>BODY" made by webhook_bench.sh.
local requests = {}
local next_index = 0

function init(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    requests[#requests + 1] = {line:sub(1, tab - 1), line:sub(tab + 1)}
  end
end

function request()
  next_index = next_index % #requests + 1
  local r = requests[next_index]
  return wrk.format("POST", "/payment/nowpayments/webhook",
                    {["Content-Type"] = "application/json", ["x-nowpayments-sig"] = r[1]}, r[2])
end
