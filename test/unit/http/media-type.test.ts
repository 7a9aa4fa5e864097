import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isEventStream, isJson } from '../../../dist/http/media-type.js';

const media = suite('media types');

media('JSON: the interned forms, other cases, parameters and +json suffixes', () => {
  for (const t of ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'APPLICATION/JSON;charset=UTF-8', 'application/vnd.api+json']) {
    assert.ok(isJson(t), t);
  }
  for (const t of [null, '', 'text/event-stream', 'text/event-stream; charset=utf-8', 'text/plain', 'text/json', 'application/octet-stream']) {
    assert.not.ok(isJson(t), String(t));
  }
});

media('event streams: the interned forms, other cases and parameters', () => {
  for (const t of ['text/event-stream', 'text/event-stream; charset=utf-8', 'Text/Event-Stream', 'TEXT/EVENT-STREAM;charset=utf-8']) {
    assert.ok(isEventStream(t), t);
  }
  for (const t of [null, '', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'text/event']) {
    assert.not.ok(isEventStream(t), String(t));
  }
});

media.run();
