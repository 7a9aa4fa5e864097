// A --workers bridge names the owning worker in the session ids it issues: the id stays a
// v4 UUID, and the slot reads back from it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { slotOf } from '../../../dist/bridge/session-relay.js';
import { flatUuid } from '../../../dist/session/session.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('a tagged id is a v4 UUID whose first 16 bits are the slot', () => {
  for (const slot of [0, 1, 7, 255, 1023, 65535]) {
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const id = flatUuid(slot);
      assert.match(id, V4);
      assert.is(slotOf(id), slot);
      ids.add(id);
    }
    assert.is(ids.size, 50, 'the rest stays random');
  }
});

test('an id naming no slot reads as -1: another length, upper case, not hex', () => {
  assert.is(slotOf(''), -1);
  assert.is(slotOf('0001'), -1);
  assert.is(slotOf(`0001${flatUuid().slice(4)}x`), -1);
  assert.is(slotOf(`00A1${flatUuid().slice(4)}`), -1);
  assert.is(slotOf(`zz01${flatUuid().slice(4)}`), -1);
  assert.match(flatUuid(), V4);
});

test.run();
