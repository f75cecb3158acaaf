-- POST /v1/events: CSEG_BATCH events per request (1: one object; more: an array), each a new
-- purchase of one of the bundled log's customers with a unique event_id (CSEG_RUN makes the
-- ids unique across runs), so every event is applied (no repeats).
local n_threads = 0
function setup(thread)
    n_threads = n_threads + 1
    thread:set("tid", n_threads)
end

local batch = tonumber(os.getenv("CSEG_BATCH") or "1")
local run = os.getenv("CSEG_RUN") or "0"
local auth = "Bearer " .. (os.getenv("CSEG_TOKEN") or "")
local counter = 0

local function event()
    counter = counter + 1
    local cust = 12346 + (counter * 7919 + tid * 104729) % 5942
    return string.format(
        '{"customer_id":"%d","time":"2011-12-10T%02d:%02d:00","invoice":"W%s-%d-%d","product":"P%d",' ..
        '"quantity":%d,"price":2.55,"event_id":"%s-%d-%d"}',
        cust, 8 + counter % 10, counter % 60, run, tid, counter, counter % 500,
        1 + counter % 6, run, tid, counter)
end

request = function()
    local body
    if batch == 1 then
        body = event()
    else
        local parts = {}
        for i = 1, batch do parts[i] = event() end
        body = "[" .. table.concat(parts, ",") .. "]"
    end
    return wrk.format("POST", "/v1/events",
                      {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
