/**
 * @module proxy/turn
 * Engine work gathered per event-loop turn and run back to back.
 *
 * The rule engine's speed depends on how much of its working set (compiled rules, their
 * targets and operators, the code that runs them) is still in the CPU's caches and TLB when
 * a request comes. Run the moment each request is read, the engine alternates with system
 * calls (the next socket's read, the previous response's write) and other processes, and
 * finds its working set cold each time: on a 2-core VM without PCID a benign GET cost about
 * 1.8× its in-process time. Deferred to the end of the turn (setImmediate: after the poll
 * phase has read every ready socket), the requests that arrived together run one after the
 * other and only the first pays for the cold start: in interleaved runs of `warden start`
 * (2 workers, wrk -c32), blocked SQLi GETs 3,700–4,000 → 5,100–6,600 req/s, benign GETs
 * 2,700–3,900 → 3,500–5,300.
 *
 * The wait is one turn of the event loop; the work queued in a turn runs in arrival order.
 */

let queue: Array<() => void> = [];
let spare: Array<() => void> = [];
let scheduled = false;

function drain(): void {
  scheduled = false;
  const batch = queue;
  queue = spare;
  for (let i = 0; i < batch.length; i++) {
    try {
      (batch[i] as () => void)();
    } catch (err) {
      // The queued steps catch their own failures; one that does not is reported, and the
      // others still run.
      process.emitWarning(`a step queued for the turn failed: ${(err as Error)?.stack ?? String(err)}`, 'WardenTurnStep');
    }
  }
  batch.length = 0;
  spare = batch;
}

/** Runs `step` at the end of this event-loop turn, after the steps queued before it. */
export function inTurn(step: () => void): void {
  queue.push(step);
  if (!scheduled) {
    scheduled = true;
    setImmediate(drain);
  }
}
