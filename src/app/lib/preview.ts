/** How a downloaded file can be shown in the page, if at all. */
export type PreviewKind = 'image' | 'audio' | 'video' | 'pdf'

const MiB = 1024 * 1024

/**
 * The largest file previewed, per kind. Images are decoded whole into memory; a PDF viewer reads
 * the whole document; audio and video stream from the downloaded file on disk as they play.
 */
export const PREVIEW_LIMITS: Record<PreviewKind, number> = { image: 32 * MiB, pdf: 64 * MiB, audio: 1024 * MiB, video: 1024 * MiB }

/**
 * Image types previewed: raster formats only. An SVG would be safe inside an `<img>`, but its blob
 * URL opened in a tab ("open image in new tab") is a document of this origin that runs scripts.
 */
const IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp'])

/**
 * The preview for a file of type `mime` and `size` bytes, or undefined. The type comes from
 * whoever shared the file, so it only chooses among these elements; the element decodes the
 * bytes and shows an error of its own if they are not what the type claims.
 */
export function previewKind (mime: string, size: number): PreviewKind | undefined {
  const type = baseType(mime)
  const kind: PreviewKind | undefined = IMAGES.has(type)
    ? 'image'
    : type === 'application/pdf'
      ? 'pdf'
      : /^audio\/[\w.+-]+$/.test(type) && !MARKUP.test(type)
        ? 'audio'
        : /^video\/[\w.+-]+$/.test(type) && !MARKUP.test(type) ? 'video' : undefined
  return kind !== undefined && size <= PREVIEW_LIMITS[kind] ? kind : undefined
}

/**
 * The type the saved file's blob URL carries: the previewed type, else a plain download. A shared
 * `text/html` must never become a page on this origin (where the owner keys live) if someone
 * opens the Save link in a tab instead of saving it.
 */
export function savedType (mime: string, size: number): string {
  return previewKind(mime, size) === undefined ? 'application/octet-stream' : baseType(mime)
}

/** Subtypes some engines render as documents (`video/x+xml` is XML to WebKit): never previewed. */
const MARKUP = /xml|html|svg/

const baseType = (mime: string): string => mime.split(';')[0]!.trim().toLowerCase()
