// What a Content-Type names, read without a parser on the hot path (a prefix test).

/** True for a JSON media type (application/json, application/*+json). */
export function isJson(contentType: string | null): boolean {
  if (contentType === null) return false;
  // The common forms, as head.ts interns them, are answered without lower-casing a copy.
  if (contentType === 'application/json' || contentType === 'application/json; charset=utf-8') return true;
  if (contentType === 'text/event-stream' || contentType === 'text/event-stream; charset=utf-8') return false;
  const t = contentType.toLowerCase();
  return t.startsWith('application/json') || (t.startsWith('application/') && t.includes('+json'));
}

/** True for an event stream (text/event-stream). */
export function isEventStream(contentType: string | null): boolean {
  if (contentType === 'text/event-stream' || contentType === 'text/event-stream; charset=utf-8') return true;
  if (contentType === 'application/json' || contentType === 'application/json; charset=utf-8') return false;
  return contentType !== null && contentType.toLowerCase().startsWith('text/event-stream');
}
