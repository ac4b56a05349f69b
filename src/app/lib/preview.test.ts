import { describe, expect, it } from 'vitest'
import { PREVIEW_LIMITS, previewKind, savedType } from './preview.ts'

describe('previewKind', () => {
  it('previews raster images, audio, video and PDF up to their size limits', () => {
    expect(previewKind('image/png', 1000)).toBe('image')
    expect(previewKind('IMAGE/JPEG; foo=bar', 1000)).toBe('image')
    expect(previewKind('audio/wav', 1000)).toBe('audio')
    expect(previewKind('video/webm', 1000)).toBe('video')
    expect(previewKind('application/pdf', 1000)).toBe('pdf')
    expect(previewKind('image/png', PREVIEW_LIMITS.image)).toBe('image')
    expect(previewKind('image/png', PREVIEW_LIMITS.image + 1)).toBeUndefined()
    expect(previewKind('application/pdf', PREVIEW_LIMITS.pdf + 1)).toBeUndefined()
  })

  it('never previews what could run as a page of this origin, or an unknown type', () => {
    for (const t of ['text/html', 'image/svg+xml', 'application/xhtml+xml', 'text/xml', 'application/octet-stream', '', 'audio/', 'video/<script>', 'video/x+xml', 'audio/html', 'video/svg']) {
      expect(previewKind(t, 10)).toBeUndefined()
    }
  })
})

describe('savedType', () => {
  it('keeps a previewed type and turns everything else into a plain download', () => {
    expect(savedType('image/png', 10)).toBe('image/png')
    expect(savedType('text/html', 10)).toBe('application/octet-stream')
    expect(savedType('image/svg+xml', 10)).toBe('application/octet-stream')
    expect(savedType('image/png', PREVIEW_LIMITS.image + 1)).toBe('application/octet-stream')
  })
})
