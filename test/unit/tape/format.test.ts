// Reading tapes: what is refused, what is skipped, and the tape show timeline.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readTape, tapeFiles } from '../../../dist/tape/format.js';
import { paintFor, showTape } from '../../../dist/tape/show.js';

const dir = mkdtempSync(join(tmpdir(), 'shadowcat-format-'));
const META = '{"tape":1,"shadowcat":"0.1.0","mode":"stdio","upstream":"node","client":"","proxySession":"stdio","mcpSessionId":null,"protocolVersion":"2025-06-18","startedAt":"2026-12-01T00:00:00.000Z"}';
const file = (name: string, text: string): string => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

const format = suite('tape format');
format.after(() => rmSync(dir, { recursive: true, force: true }));

format('a tape: metadata, messages, markers and the closing line; lines that are not JSON are counted, not fatal', () => {
  const t = readTape(file('ok.jsonl', [META,
    '{"t":0.5,"dir":"in","msg":{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}}',
    '{"t":1,"dropped":2}',
    '{"t":2,"dir":"out","msg":{"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"blocked"}}}',
    '{"t":2.5,"dir":"out","skipped":"not_json","bytes":5}',
    '{"broken',
    '{"t":3,"end":"shutdown","messages":3,"dropped":2}', ''].join('\n')));
  assert.is(t.entries.length, 4);
  assert.is(t.unreadable, 1);
  assert.is(t.end!.end, 'shutdown');
  const shown = showTape(t, paintFor(false, {})).join('\n');
  assert.match(shown, /0\.001\s+→\s+tools\/call\s+echo\s+1/);
  assert.match(shown, /2 message\(s\) dropped here/);
  assert.match(shown, /←\s+tools\/call\s+echo\s+1\s+1\.5 ms\s+error -32001: blocked/);
  assert.match(shown, /\(not_json, 5 bytes\)/);
  assert.match(shown, /end \(shutdown\): 3 messages, 2 dropped/);
  assert.match(shown, /1 line\(s\) were not JSON/);
  assert.not.match(shown, /\x1b/);
  assert.match(showTape(t, paintFor(true, {})).join('\n'), /\x1b\[31m/, 'colours on a terminal');
  assert.not.match(showTape(t, paintFor(true, { NO_COLOR: '1' })).join('\n'), /\x1b/, 'NO_COLOR');
});

format('refused: not JSON, no metadata line, a newer format, an empty file, a folder without tapes', () => {
  assert.throws(() => readTape(file('a.jsonl', 'hello\n')), /not a shadowcat tape \(line 1 is not JSON\)/);
  assert.throws(() => readTape(file('b.jsonl', '{"t":1,"dir":"in","msg":{}}\n')), /no metadata line/);
  assert.throws(() => readTape(file('c.jsonl', META.replace('"tape":1', '"tape":9'))), /tape format 9 is newer/);
  assert.throws(() => readTape(file('d.jsonl', '')), /empty, not a tape/);
  assert.throws(() => readTape(join(dir, 'missing.jsonl')), /cannot read .*ENOENT/);
  const empty = mkdtempSync(join(dir, 'empty-'));
  assert.throws(() => tapeFiles(empty), /no \.jsonl tapes/);
  assert.equal(tapeFiles(dir).map((f) => f.slice(dir.length + 1)), ['a.jsonl', 'b.jsonl', 'c.jsonl', 'd.jsonl', 'ok.jsonl']);
});

format('hostile lines are skipped and counted: values that would become SSE fields, headers or timers are checked', () => {
  const lines = [META,
    '{"t":0,"dir":"in","msg":{"jsonrpc":"2.0","id":1,"method":"ping"}}',
    '{"t":1,"dir":"out","http":{"status":200,"event-id":"1\\ndata: {\\"evil\\":1}"},"msg":{"jsonrpc":"2.0","id":1,"result":{}}}',
    '{"t":1,"dir":"out","http":{"status":1000},"msg":{"jsonrpc":"2.0","id":1,"result":{}}}',
    '{"t":1,"dir":"out","http":{"status":"200"},"msg":{"jsonrpc":"2.0","id":1,"result":{}}}',
    '{"t":1,"dir":"out","http":{"mcp-session-id":"a\\r\\nSet-Cookie: x=1"},"msg":{"jsonrpc":"2.0","id":1,"result":{}}}',
    '{"t":1,"dir":"out","http":{"content-type":["text/event-stream"]},"msg":{"jsonrpc":"2.0","id":1,"result":{}}}',
    '{"t":1,"dir":"out","http":"GET","msg":{"jsonrpc":"2.0","id":1,"result":{}}}',
    '{"t":1e300,"dir":"out","msg":{"jsonrpc":"2.0","id":1,"result":{}}}',
    '{"t":-1,"dir":"out","msg":{"jsonrpc":"2.0","id":1,"result":{}}}',
    '{"t":"1","dir":"out","msg":{"jsonrpc":"2.0","id":1,"result":{}}}',
    '{"t":1,"dir":"sideways","msg":{"jsonrpc":"2.0","id":1,"result":{}}}',
    '{"t":1,"dir":"out","http":{"exchange":"x"},"msg":{"jsonrpc":"2.0","id":1,"result":{}}}',
    '{"t":1,"dir":"out","skipped":5}',
    '{"t":2,"dir":"out","http":{"status":200,"event-id":"7"},"msg":{"jsonrpc":"2.0","id":1,"result":{"__proto__":{"polluted":true}}}}',
    '{"t":3,"end":"shutdown","messages":"many"}', ''];
  const t = readTape(file('hostile.jsonl', lines.join('\n')));
  assert.is(t.entries.length, 2, 'the ping and the last answer');
  assert.is(t.unreadable, 13);
  assert.is(t.end, null, 'a closing line with the wrong shape is no closing line');
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

format('tape show prints no control characters or bidi overrides from a tape', () => {
  const t = readTape(file('escapes.jsonl', [META.replace('"mode":"stdio"', '"mode":"\\u001b]0;owned\\u0007"'),
    '{"t":0,"dir":"in","msg":{"jsonrpc":"2.0","id":"\\u001b[2J","method":"tools/call\\u001b[31m","params":{"name":"a\\u202eb"}}}',
    '{"t":1,"dir":"out","msg":{"jsonrpc":"2.0","id":"\\u001b[2J","error":{"code":1,"message":"\\u009b6n"}}}', ''].join('\n')));
  const shown = showTape(t, paintFor(false, {})).join('\n');
  assert.not.match(shown, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
  assert.match(shown, /tools\/call\?\[31m/);
});

format.run();
