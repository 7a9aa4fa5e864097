;; The repeat scan of the SSE reader (sse-reader.ts, #repeat), over a read copied into this
;; module's memory: counts the events that are the template's again, one after another,
;; as the reader's own walk would hand them to its repeat handler (and that handler would
;; count them: the data closes with a brace). 16 bytes at a time where the JS walk goes a
;; word or a byte at a time. Assembled by tools/build-wasm.mjs into sse-scan-wasm.ts.
;;
;; Memory: the template's head at HEAD (0), its tail at TAIL (512), the read from READ
;; (1024) on, with 16 spare bytes after it (the vector loads may read past its end; what
;; they find there is never taken for the read's).
(module
  (memory (export "memory") 2)
  ;; Where the scan stopped: the start of the first event it did not count.
  (global $stop (export "stop") (mut i32) (i32.const 0))

  ;; 1 when a[0, len) equals b[0, len).
  (func $eq (param $a i32) (param $b i32) (param $len i32) (result i32)
    (local $i i32)
    (if (i32.ge_u (local.get $len) (i32.const 16))
      (then
        (block $last
          (loop $blocks
            (br_if $last (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $len)))
            (if (i32.eqz (i8x16.all_true (i8x16.eq
                  (v128.load align=1 (i32.add (local.get $a) (local.get $i)))
                  (v128.load align=1 (i32.add (local.get $b) (local.get $i))))))
              (then (return (i32.const 0))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $blocks)))
        ;; The last 16 bytes, overlapping the blocks before.
        (local.set $i (i32.sub (local.get $len) (i32.const 16)))
        (return (i8x16.all_true (i8x16.eq
          (v128.load align=1 (i32.add (local.get $a) (local.get $i)))
          (v128.load align=1 (i32.add (local.get $b) (local.get $i))))))))
    (if (i32.ge_u (local.get $len) (i32.const 8))
      (then
        (local.set $i (i32.sub (local.get $len) (i32.const 8)))
        (return (i32.and
          (i64.eq (i64.load align=1 (local.get $a)) (i64.load align=1 (local.get $b)))
          (i64.eq (i64.load align=1 (i32.add (local.get $a) (local.get $i)))
                  (i64.load align=1 (i32.add (local.get $b) (local.get $i))))))))
    (block $done
      (loop $bytes
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $b) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $bytes)))
    (i32.const 1))

  ;; The first LF or CR at or after $p and before $end, or -1.
  (func $lineEnd (param $p i32) (param $end i32) (result i32)
    (local $v v128)
    (local $m i32)
    (block $none
      (loop $scan
        (br_if $none (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $v (v128.load align=1 (local.get $p)))
        (local.set $m (i8x16.bitmask (v128.or
          (i8x16.eq (local.get $v) (i8x16.splat (i32.const 10)))
          (i8x16.eq (local.get $v) (i8x16.splat (i32.const 13))))))
        (if (local.get $m)
          (then
            (local.set $p (i32.add (local.get $p) (i32.ctz (local.get $m))))
            (return (select (local.get $p) (i32.const -1) (i32.lt_u (local.get $p) (local.get $end))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $scan)))
    (i32.const -1))

  ;; Counts the events from $at on (addresses; the read ends at $end) that are the template's
  ;; again: the head's bytes (when $headLen), then one line starting with `i` (when $idLine),
  ;; then the tail's bytes, the data value starting $valueAt bytes into the tail and running
  ;; to the line's end (at most $limit bytes), then a blank line; whole before $end; and
  ;; whose value's last byte that is not JSON blank, after its first $same bytes, is `}`.
  ;; Where the first event not counted starts is left in $stop.
  (func (export "scan") (param $at i32) (param $end i32) (param $headLen i32) (param $idLine i32)
      (param $tailLen i32) (param $valueAt i32) (param $same i32) (param $limit i32) (result i32)
    (local $count i32)
    (local $p i32)
    (local $e i32)
    (local $c i32)
    (local $value i32)
    (local $j i32)
    (block $out
      (loop $event
        (br_if $out (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $p (local.get $at))
        (if (local.get $headLen)
          (then
            (br_if $out (i32.ge_u (i32.add (local.get $p) (local.get $headLen)) (local.get $end)))
            (br_if $out (i32.eqz (call $eq (local.get $p) (i32.const 0) (local.get $headLen))))
            (local.set $p (i32.add (local.get $p) (local.get $headLen)))))
        (if (local.get $idLine)
          (then
            (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
            (br_if $out (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x69)))
            (local.set $e (call $lineEnd (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
            (br_if $out (i32.eq (local.get $e) (i32.const -1)))
            (local.set $p (i32.add (local.get $e) (i32.const 1)))
            (if (i32.eq (i32.load8_u (local.get $e)) (i32.const 13))
              (then
                (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
                (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 10))
                  (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))))))
        (br_if $out (i32.ge_u (i32.add (local.get $p) (local.get $tailLen)) (local.get $end)))
        (br_if $out (i32.eqz (call $eq (local.get $p) (i32.const 512) (local.get $tailLen))))
        (local.set $value (i32.add (local.get $p) (local.get $valueAt)))
        (local.set $e (call $lineEnd (i32.add (local.get $p) (local.get $tailLen)) (local.get $end)))
        (br_if $out (i32.eq (local.get $e) (i32.const -1)))
        (br_if $out (i32.gt_s (i32.sub (local.get $e) (local.get $value)) (local.get $limit)))
        ;; The value closes with a brace: the last byte not blank, after the repeated bytes.
        (local.set $j (i32.sub (local.get $e) (i32.const 1)))
        (block $blank
          (loop $back
            (br_if $blank (i32.le_s (local.get $j) (i32.add (local.get $value) (i32.sub (local.get $same) (i32.const 1)))))
            (local.set $c (i32.load8_u (local.get $j)))
            (br_if $blank (i32.eqz (i32.or
              (i32.or (i32.eq (local.get $c) (i32.const 0x20)) (i32.eq (local.get $c) (i32.const 0x09)))
              (i32.or (i32.eq (local.get $c) (i32.const 0x0a)) (i32.eq (local.get $c) (i32.const 0x0d))))))
            (local.set $j (i32.sub (local.get $j) (i32.const 1)))
            (br $back)))
        (br_if $out (i32.le_s (local.get $j) (i32.add (local.get $value) (i32.sub (local.get $same) (i32.const 1)))))
        (br_if $out (i32.ne (i32.load8_u (local.get $j)) (i32.const 0x7d)))
        ;; The data line's break, then the blank line, whole in the read.
        (local.set $p (i32.add (local.get $e) (i32.const 1)))
        (if (i32.eq (i32.load8_u (local.get $e)) (i32.const 13))
          (then
            (if (i32.lt_u (local.get $p) (local.get $end))
              (then
                (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 10))
                  (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))))))
        (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.eq (local.get $c) (i32.const 10))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
          (else
            (br_if $out (i32.ne (local.get $c) (i32.const 13)))
            (br_if $out (i32.ge_u (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
            (local.set $p (i32.add (local.get $p)
              (select (i32.const 2) (i32.const 1) (i32.eq (i32.load8_u (i32.add (local.get $p) (i32.const 1))) (i32.const 10)))))))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (local.set $at (local.get $p))
        (br $event)))
    (global.set $stop (local.get $at))
    (local.get $count))
)
