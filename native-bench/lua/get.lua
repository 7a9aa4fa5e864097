-- Scenario (c)/(d): a GET of the path in BENCH_PATH.
wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH") or "/big"
wrk.headers["Accept"] = os.getenv("BENCH_ACCEPT") or "*/*"
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/report.lua")
