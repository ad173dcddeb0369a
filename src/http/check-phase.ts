// Writes that wait for the end of this turn of the event loop, to go out together. Each answer written to a socket
// wakes its reader; on a loaded machine (or a small VM) the woken process takes the writer's CPU there and then, and
// the writer's other ready work waits behind a context switch. Answers ready in one turn (the poll phase read several
// sockets) are better written one after the other once that work is done: in the check phase, which comes right
// after the poll phase, so nothing waits longer than the turn it is in.

let thisTurn: Promise<void> | undefined;

/** Resolves in this turn's check phase, at once for every caller of this turn, in the order they called. */
export function checkPhase(): Promise<void> {
  return (thisTurn ??= new Promise((resolve) =>
    setImmediate(() => {
      thisTurn = undefined;
      resolve();
    }),
  ));
}
