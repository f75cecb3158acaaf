-- POST /v1/score with one customer's features (CSEG_SCORE_BODY), as bench/service.sh sets it.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("CSEG_TOKEN") or "")
wrk.body = os.getenv("CSEG_SCORE_BODY")
wrk.path = "/v1/score"
