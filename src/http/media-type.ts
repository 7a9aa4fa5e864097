// What a Content-Type names, read without a parser on the hot path (a prefix test).

// The common values: head.ts interns these very strings, so the tests below answer them by
// identity, without lower-casing a copy.
export const APPLICATION_JSON = 'application/json';
export const APPLICATION_JSON_UTF8 = 'application/json; charset=utf-8';
export const EVENT_STREAM = 'text/event-stream';
export const EVENT_STREAM_UTF8 = 'text/event-stream; charset=utf-8';

/** True for a JSON media type (application/json, application/*+json). */
export function isJson(contentType: string | null): boolean {
  if (contentType === null) return false;
  if (contentType === APPLICATION_JSON || contentType === APPLICATION_JSON_UTF8) return true;
  if (contentType === EVENT_STREAM || contentType === EVENT_STREAM_UTF8) return false;
  const t = contentType.toLowerCase();
  return t.startsWith('application/json') || (t.startsWith('application/') && t.includes('+json'));
}

/** True for an event stream (text/event-stream). */
export function isEventStream(contentType: string | null): boolean {
  if (contentType === EVENT_STREAM || contentType === EVENT_STREAM_UTF8) return true;
  if (contentType === APPLICATION_JSON || contentType === APPLICATION_JSON_UTF8) return false;
  return contentType !== null && contentType.toLowerCase().startsWith('text/event-stream');
}
