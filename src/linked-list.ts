// An intrusive doubly linked list: the nodes carry their own links, so appending and
// unlinking are O(1) and allocate nothing. The shared deadline queues and the MCP
// correlator keep their entries in order this way.

/** A node that can sit in one LinkedList at a time. */
export interface Linked<N> {
  prev: N | null;
  next: N | null;
}

/** The two ends of an intrusive list of `N`, oldest first. */
export class LinkedList<N extends Linked<N>> {
  head: N | null = null;
  tail: N | null = null;

  /** Appends `node` (not in any list) at the tail. */
  push(node: N): void {
    node.prev = this.tail;
    if (this.tail === null) this.head = node;
    else this.tail.next = node;
    this.tail = node;
  }

  /** Takes `node` (in this list) out, clearing its links. */
  unlink(node: N): void {
    if (node.prev === null) this.head = node.next;
    else node.prev.next = node.next;
    if (node.next === null) this.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = null;
    node.next = null;
  }

  /** Forgets every node (their links are left as they are). */
  clear(): void {
    this.head = null;
    this.tail = null;
  }
}
