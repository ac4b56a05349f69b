/**
 * Every error class Shardfarm exports has an entry in the error catalogue (exit status, sentence),
 * found by its code and, for errors that cross a worker without it, by its name. The modules are
 * found by reading the sources, so a new error module cannot be forgotten here.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { codeOf, ERROR_CATALOGUE } from '../../src/core/error-catalogue.ts'
import { ShardfarmError } from '../../src/core/errors.ts'
import { DIRECTORY_ERROR_CODES } from '../../src/net/protocols/directory.ts'
import { ERROR_NAMES } from '../../src/net/protocols/fragment-errors.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const DECLARES_ERROR = /\bclass\s+\w+\s+extends\s+(?:\w+Error|Error)\b/

/** Classes that take their code as the first argument, and every code they may carry. */
const CODE_PARAMETER: Record<string, readonly string[]> = {
  FarmerError: Object.keys(ERROR_NAMES),
  DirectoryError: DIRECTORY_ERROR_CODES
}

type ErrorClass = new (...args: unknown[]) => Error & { code?: unknown }

async function sources (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name)
    if (e.isDirectory()) out.push(...await sources(path))
    else if (/\.ts$/.test(e.name) && !/\.(test|d)\.ts$/.test(e.name)) out.push(path)
  }
  return out
}

/** Every exported error class but the base, by `file#export`. */
async function errorClasses (): Promise<Map<string, ErrorClass>> {
  const found = new Map<string, ErrorClass>()
  for (const file of [...await sources(join(ROOT, 'src')), ...await sources(join(ROOT, 'relay'))]) {
    if (!DECLARES_ERROR.test(await readFile(file, 'utf8'))) continue
    const mod = await import(file) as Record<string, unknown>
    for (const [name, value] of Object.entries(mod)) {
      if (value !== ShardfarmError && typeof value === 'function' && value.prototype instanceof Error) found.set(`${relative(ROOT, file)}#${name}`, value as ErrorClass)
    }
  }
  return found
}

/** Instances of `cls` for each code it can carry. Dummy arguments: `[]` reads as an empty list, string and zero. */
function instances (cls: ErrorClass): Array<Error & { code?: unknown }> {
  const codes = CODE_PARAMETER[cls.name]
  if (codes !== undefined) return codes.map(code => new cls(code, 'message', {}))
  return [new cls([], [], [], [], [])]
}

describe('the error catalogue', () => {
  it('has an entry for the code of every exported error class, found by code and by name', async () => {
    const classes = await errorClasses()
    expect(classes.size).toBeGreaterThan(30)
    const raised = new Set<string>()
    const codesOfName = new Map<string, Set<string>>()
    for (const [where, cls] of classes) {
      for (const err of instances(cls)) {
        expect(typeof err.code, `${where}: a class whose code is an argument belongs in CODE_PARAMETER`).toBe('string')
        const code = err.code as string
        raised.add(code)
        expect(ERROR_CATALOGUE[code], `${where}: no catalogue entry for ${code}`).toBeDefined()
        expect(codeOf(err), `${where}`).toBe(code)
        codesOfName.set(err.name, (codesOfName.get(err.name) ?? new Set()).add(code))
      }
    }
    // An error from a worker keeps only its name: each name that always means one code must find it.
    for (const [name, codes] of codesOfName) {
      const only = codes.size === 1 ? [...codes][0] : undefined
      expect(codeOf({ name }), `${name} (codes ${[...codes].join(', ')})`).toBe(only)
    }
    // And nothing in the catalogue is left over from an error that no longer exists.
    expect(Object.keys(ERROR_CATALOGUE).filter(code => !raised.has(code))).toEqual([])
  })
})
