-- Scenario (c)/(d): a GET of the path in BENCH_PATH.
wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH") or "/big"
wrk.headers["Accept"] = os.getenv("BENCH_ACCEPT") or "*/*"
-- report.lua sits beside this script (BENCH_LUA_DIR overrides), so wrk can run it from anywhere.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
dofile((os.getenv("BENCH_LUA_DIR") or here) .. "/report.lua")
