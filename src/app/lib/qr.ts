import qrcode from 'qrcode-generator'

/** A QR code as one SVG path: `size` modules a side (quiet zone included), dark modules in `d`. */
export interface QrPicture { size: number, d: string }

/** The quiet zone the QR standard asks for around the symbol, in modules. */
const QUIET = 4

/**
 * Encodes `text` (a share link: ASCII) as a QR code with medium error correction, the smallest
 * version that holds it, and draws its dark modules as one path of unit squares, so it scales to
 * any size without blurring and needs no canvas.
 */
export function qrPicture (text: string): QrPicture {
  const qr = qrcode(0, 'M')
  qr.addData(text, 'Byte')
  qr.make()
  const n = qr.getModuleCount()
  const parts: string[] = []
  for (let r = 0; r < n; r++) {
    // One horizontal run of dark modules is one rectangle: a few hundred path commands, not thousands.
    for (let c = 0; c < n;) {
      if (!qr.isDark(r, c)) { c++; continue }
      let end = c
      while (end < n && qr.isDark(r, end)) end++
      parts.push(`M${c + QUIET} ${r + QUIET}h${end - c}v1h${c - end}z`)
      c = end
    }
  }
  return { size: n + 2 * QUIET, d: parts.join('') }
}
