/** Writes one line of progress to stderr (stdout carries the report). */
export function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}
