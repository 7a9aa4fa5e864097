// The one way an upstream URL is shown to people (logs, /sessions, tapes, errors, the
// embedding API's addresses): the userinfo and the query of `--url` may hold credentials
// (`http://user:pw@host/mcp?key=…`), so they are never rendered.

/** `url` without its user, password, query or fragment: `http://host:port/path`. */
export function publicUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Text that failed to parse as a URL, shown with what looks like userinfo and the query cut out. */
export function publicUrlText(text: string): string {
  const scheme = text.indexOf('://');
  let rest = scheme === -1 ? text : text.slice(scheme + 3);
  const q = rest.search(/[?#]/);
  if (q !== -1) rest = rest.slice(0, q);
  const at = rest.lastIndexOf('@');
  if (at !== -1) rest = rest.slice(at + 1);
  return scheme === -1 ? rest : `${text.slice(0, scheme)}://${rest}`;
}
