-- Scenario (a)/(b): a small JSON-RPC POST.
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Mcp-Session-Id"] = "bench-session"
if os.getenv("BENCH_API_KEY") then wrk.headers["X-API-Key"] = os.getenv("BENCH_API_KEY") end
if os.getenv("BENCH_BEARER") then wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER") end
if os.getenv("BENCH_CLOSE") == "1" then wrk.headers["Connection"] = "close" end
-- report.lua sits beside this script (BENCH_LUA_DIR overrides), so wrk can run it from anywhere.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
dofile((os.getenv("BENCH_LUA_DIR") or here) .. "/report.lua")
