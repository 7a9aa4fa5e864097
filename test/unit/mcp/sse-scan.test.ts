import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SseReader } from '../../../dist/mcp/sse-reader.js';
import { rng } from '../../helpers/seeded.js';

const scan = suite('sse-scan: runs of repeats counted in wasm');

const PREFIX = '{"jsonrpc":"2.0","method":"notifications/progress",';

/** The value past its first `from` bytes ends with a closing brace (what the sink checks of a repeat). */
function closes(data: string, from: number): boolean {
  const t = data.slice(from).replace(/[ \t\r\n]+$/, '');
  return t.length > 0 && t.endsWith('}');
}

/**
 * Reads `text` cut into `cuts` with a handler that counts as the message sink does: an event
 * whose data starts with PREFIX and closes is counted into the run the event before it
 * started in the same read; anything else is told (its data kept). `withRun`: the reader may
 * count runs in wasm. Returns what was counted and told, in order, and how many the scan took.
 */
function read(text: string, cuts: number[], limit: number, withRun: boolean): { tokens: string[]; scanned: number; repeats: number } {
  const tokens: string[] = [];
  let live = false;
  let scanned = 0;
  let repeats = 0;
  const streamed = (data: string): number => {
    const mine = data.startsWith(PREFIX) && closes(data, PREFIX.length);
    if (mine && live) {
      tokens.push('R');
      return PREFIX.length;
    }
    tokens.push(`E:${data}`);
    live = mine;
    return mine ? PREFIX.length : 0;
  };
  const r = new SseReader(limit, (b, s, e) => streamed(b.toString('latin1', s, e)), false, (b, s, e) => {
    repeats++;
    const data = b.toString('latin1', s, e);
    assert.ok(data.startsWith(PREFIX), data);
    if (live && closes(data, PREFIX.length)) tokens.push('R');
    else streamed(data);
  }, withRun ? {
    countable: () => (live ? PREFIX.length : 0),
    count: (times) => {
      assert.ok(live && times > 0);
      scanned += times;
      for (let i = 0; i < times; i++) tokens.push('R');
    },
  } : null);
  const bytes = Buffer.from(text, 'latin1');
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = cuts[i % cuts.length]!;
    r.push(Buffer.from(bytes.subarray(at, at + n)));
    // The sink tells its run at the end of each read.
    live = false;
    at += n;
  }
  return { tokens, scanned, repeats };
}

scan('counted in wasm exactly as the reader would hand each repeat over, however the stream is made and cut', () => {
  const next = rng(26);
  const rnd = (n: number): number => Math.floor(next() * n);
  const breaks = ['\n', '\r\n', '\r'];
  let scanned = 0;
  let events = 0;
  for (let n = 0; n < 60; n++) {
    const br = breaks[rnd(breaks.length)]!;
    const idFirst = rnd(2) === 0;
    const longIds = rnd(3) === 0;
    const limit = rnd(4) === 0 ? 90 + rnd(40) : 1 << 20;
    let text = '';
    for (let e = 0; e < 600; e++) {
      const b = rnd(40) === 0 ? breaks[rnd(breaks.length)]! : br;
      const tail = ['}}', '}} ', '}}\t ', '}', '', '} x', '}}}'][rnd(40) === 0 ? rnd(7) : 0]!;
      const data = rnd(25) === 0 ? `{"jsonrpc":"2.0","method":"notifications/message","params":{"n":${e}}}`
        // Another method that differs from the prefix only in its last bytes.
        : rnd(30) === 0 ? `${PREFIX.slice(0, -3 - rnd(3))}z${PREFIX.slice(PREFIX.length - 2 - rnd(1))}"params":{"progress":${e}}}`
        : rnd(30) === 0 ? `${PREFIX}"params":{"pad":"${'p'.repeat(rnd(120))}"}}`
        : `${PREFIX}"params":{"progress":${e},"total":600${tail}`;
      const id = longIds ? `id: 1f0c2a7e-8e3b-4c1e-9a57-3f1b2c4d5e6f_${e}${b}` : rnd(50) === 0 ? `id${b}` : `id: ${e}${b}`;
      switch (rnd(40)) {
        case 0: text += `: keep-alive${b}${b}`; continue;
        case 1: text += `event: message${b}${id}data: ${data}${b}retry: 5${b}${b}`; break;
        case 2: text += `${id}${id}data: ${data}${b}${b}`; break;
        case 3: text += `data: ${data}${b}data: more${b}${b}`; break;
        case 4: text += `${idFirst ? '' : `event: message${b}`}data: ${data}${b}${b}`; break;
        case 5: text += `event: other${b}${id}data: ${data}${b}${b}`; break;
        // A data line where the id line was: two data lines, not the template's event.
        case 6: text += idFirst ? `data: ${e}${b}event: message${b}data: ${data}${b}${b}` : `event: message${b}data: ${e}${b}data: ${data}${b}${b}`; break;
        default: text += idFirst ? `${id}event: message${b}data: ${data}${b}${b}` : `event: message${b}${id}data: ${data}${b}${b}`;
      }
    }
    const cuts = rnd(3) === 0 ? [text.length] : [4096 + rnd(30000), 1 + rnd(300), 5000 + rnd(9000)];
    const each = read(text, cuts, limit, false);
    const run = read(text, cuts, limit, true);
    assert.equal(run.tokens, each.tokens, `stream ${n}`);
    assert.is(each.scanned, 0);
    scanned += run.scanned;
    events += each.tokens.length;
  }
  // Most events went by the scan (so it ran), not all (so it stopped where it must).
  assert.ok(scanned > events / 2 && scanned < events, `${scanned} scanned of ${events}`);
});

scan('a read of one repeat after another is counted in a call or two, not handed over event by event', () => {
  let text = '';
  for (let i = 0; i < 600; i++) text += `id: ${i}\nevent: message\ndata: ${PREFIX}"params":{"progress":${i},"total":600}}\n\n`;
  const run = read(text, [text.length], 1 << 20, true);
  assert.is(run.tokens.length, 600);
  assert.is(run.tokens.filter((t) => t === 'R').length, 599);
  // All but the first (told, and learned as the template) in one call: none handed over.
  assert.is(run.scanned, 599);
  assert.is(run.repeats, 0);
});

scan('an event whose blank line is not in the read yet is not counted, whatever the scan\'s memory held past the read', () => {
  let text = '';
  for (let i = 0; i < 300; i++) text += `id: ${1000 + i}\nevent: message\ndata: ${PREFIX}"params":{"progress":${1000 + i},"total":300}}\n\n`;
  const event = text.length / 300;
  for (const k of [100, 200, 299]) {
    // The whole stream first, copied where the cut one will be: past the cut read's end,
    // memory holds the blank line that read lacks.
    read(text, [text.length], 1 << 20, true);
    const cut = k * event + event - 1;
    const each = read(text, [cut, text.length], 1 << 20, false);
    read(text, [text.length], 1 << 20, true);
    const run = read(text, [cut, text.length], 1 << 20, true);
    assert.equal(run.tokens, each.tokens, `cut in event ${k}`);
    assert.is(run.tokens[k], `E:${PREFIX}"params":{"progress":${1000 + k},"total":300}}`);
  }
});

scan('a Buffer pushed again with other bytes in it is read anew, not from the last copy', () => {
  const ev = (i: number, method: string): string => `id: ${i}\ndata: {"jsonrpc":"2.0","method":"notifications/${method}",${'"params":{}}'}\n\n`;
  let a = '';
  let b = '';
  for (let i = 0; i < 100; i++) {
    a += ev(i, 'progress');
    b += ev(i, i > 0 && i < 60 ? 'progress' : 'pr0gress');
  }
  const prefix = '{"jsonrpc":"2.0","method":"notifications/progress",';
  let counted = 0;
  let told = 0;
  let live = false;
  const r = new SseReader(1 << 20, (buf, s, e) => {
    told++;
    live = buf.toString('latin1', s, e).startsWith(prefix);
    return live ? prefix.length : 0;
  }, false, () => assert.unreachable('every repeat is scanned'), { countable: () => (live ? prefix.length : 0), count: (t) => { counted += t; } });
  const buf = Buffer.from(a);
  r.push(buf);
  assert.equal([told, counted], [1, 99]);
  // The same Buffer, rewritten (a caller that reuses its read buffer): its first and last
  // events are another method, so the scan starts past where it started in the first push.
  buf.write(b);
  told = counted = 0;
  live = false;
  r.push(buf);
  assert.equal([told, counted], [42, 58]);
});

scan('the shipped module is sse-scan.wat assembled', async () => {
  const tool = new URL('../../../tools/build-wasm.mjs', import.meta.url).href;
  const { render } = (await import(tool)) as { render(): Promise<string> };
  const shipped = readFileSync(new URL('../../../src/mcp/sse-scan-wasm.ts', import.meta.url), 'utf8');
  assert.is(await render(), shipped, 'run node tools/build-wasm.mjs');
});

scan.run();
