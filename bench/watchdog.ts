/**
 * The benches' time bound: past `minutes` the process says so and exits with 2; the lab's exit
 * handler (src/lab/lab.ts) then removes the namespaces it made. Returns the disarm.
 */
export function armWatchdog(minutes: number, say: (msg: string) => void): () => void {
  const timer = setTimeout(() => {
    say(`giving up after ${minutes} minutes`);
    process.exit(2);
  }, minutes * 60_000);
  timer.unref();
  return () => clearTimeout(timer);
}
