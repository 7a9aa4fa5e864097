# The bridge benchmark's small stdio MCP server for the idle-memory rows: the same answers
# as stdio-echo-server.mjs in a process a fifth of the size, so hundreds of sessions fit.
import json
import sys

for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if not isinstance(m, dict) or 'id' not in m or 'method' not in m:
        continue
    if m['method'] == 'initialize':
        result = {'protocolVersion': m.get('params', {}).get('protocolVersion', '2025-06-18'), 'capabilities': {'tools': {}},
                  'serverInfo': {'name': 'bench-echo', 'version': '1.0.0'}}
    else:
        result = {}
    sys.stdout.write(json.dumps({'jsonrpc': '2.0', 'id': m['id'], 'result': result}) + '\n')
    sys.stdout.flush()
