-- Scenario (c)/(d): a GET of the path in BENCH_PATH. Prints the run's figures as one JSON line.
wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH") or "/big"
wrk.headers["Accept"] = os.getenv("BENCH_ACCEPT") or "*/*"

done = function(summary, latency, requests)
  io.write(string.format('BENCH {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
