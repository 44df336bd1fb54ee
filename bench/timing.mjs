// What the benchmark scripts share: timing a step and printing it as one aligned line.
export function time(label, fn) {
  const start = process.hrtime.bigint();
  fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${label.padEnd(60)} ${seconds.toFixed(2).padStart(7)} s`);
  return seconds;
}
