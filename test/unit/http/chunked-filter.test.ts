import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ChunkedFilter } from '../../../dist/http/chunked-filter.js';

const filter = suite('ChunkedFilter');

function run(f: ChunkedFilter, input: Buffer, cuts: number[]): { out: Buffer; same: boolean } {
  const parts: Buffer[] = [];
  let same = true;
  let prev = 0;
  for (const at of [...cuts, input.length]) {
    const piece = input.subarray(prev, at);
    const got = f.push(piece);
    if (got !== piece) same = false;
    parts.push(got);
    prev = at;
  }
  return { out: Buffer.concat(parts), same };
}

filter('a body without extensions or trailers comes back as the very same buffers', () => {
  const f = new ChunkedFilter();
  const input = Buffer.from('5\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n');
  const r = run(f, input, [1, 4, 9, 20]);
  assert.ok(r.same);
  assert.is(r.out.toString(), input.toString());
  assert.ok(f.done);
});

filter('random bodies, random splits: extensions and trailers dropped, data and sizes kept', () => {
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 500; round++) {
    let input = '';
    let expected = '';
    let payload = '';
    const chunks = rnd(5);
    for (let c = 0; c < chunks; c++) {
      const size = 1 + rnd(40);
      const data = 'd'.repeat(size).replace(/d/g, () => String.fromCharCode(0x20 + rnd(90)));
      const hex = rnd(2) === 0 ? size.toString(16).toUpperCase() : size.toString(16);
      const ext = rnd(3) === 0 ? `;x${rnd(9)}=${'v'.repeat(rnd(30))}` : '';
      input += `${hex}${ext}\r\n${data}\r\n`;
      expected += `${hex}\r\n${data}\r\n`;
      payload += data;
    }
    const lastExt = rnd(2) === 0 ? ';end' : '';
    const trailers = rnd(2) === 0 ? `Content-Length: ${rnd(99)}\r\nX-T: ${'t'.repeat(rnd(20))}\r\n` : '';
    input += `0${lastExt}\r\n${trailers}\r\n`;
    expected += '0\r\n\r\n';
    const buf = Buffer.from(input, 'latin1');
    const cuts = [...new Set(Array.from({ length: rnd(8) }, () => rnd(buf.length)))].sort((a, b) => a - b);
    const data: Buffer[] = [];
    const f = new ChunkedFilter((d) => data.push(Buffer.from(d)));
    const r = run(f, buf, cuts);
    assert.is(Buffer.concat(data).toString('latin1'), payload, 'the data runs, without framing');
    assert.is(r.out.toString('latin1'), expected, `input ${JSON.stringify(input)} cuts ${cuts}`);
    assert.ok(f.done);
    assert.is(new ChunkedFilter().push(Buffer.from(expected, 'latin1')).toString('latin1'), expected, 'the output is a fixed point');
  }
});

filter.run();
