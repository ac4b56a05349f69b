/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal (scripts and logs get
 * nothing), redrawn at most every 100 ms.
 */
export class ProgressBar {
  readonly #label: string
  readonly #total: number
  readonly #started = performance.now()
  readonly #tty = process.stderr.isTTY === true
  #last = 0

  constructor (label: string, total: number) {
    this.#label = label
    this.#total = total
  }

  update (done: number, note = ''): void {
    if (!this.#tty) return
    const now = performance.now()
    if (now - this.#last < 100 && done < this.#total) return
    this.#last = now
    const frac = this.#total === 0 ? 1 : Math.min(1, done / this.#total)
    const width = 28
    const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░')
    const secs = (now - this.#started) / 1000
    const rate = secs > 0 ? done / 1e6 / secs : 0
    process.stderr.write(`\r${this.#label} ${bar} ${(frac * 100).toFixed(0).padStart(3)}%  ${mib(done)}/${mib(this.#total)}  ${rate.toFixed(1)} MB/s ${note}`.padEnd(100))
  }

  done (): void {
    if (this.#tty) process.stderr.write('\n')
  }
}

function mib (n: number): string {
  return n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`
}
