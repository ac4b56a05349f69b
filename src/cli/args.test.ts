import { describe, expect, it } from 'vitest'
import { parseHost, parseHostPort, UsageError } from './args.ts'

describe('host flags', () => {
  it('take an IPv4 address or localhost, with a port or without, and refuse anything else', () => {
    expect(parseHostPort('listen', '10.0.0.5:4001')).toEqual({ host: '10.0.0.5', port: 4001 })
    expect(parseHostPort('listen', 'localhost:0')).toEqual({ host: '127.0.0.1', port: 0 })
    expect(parseHost('listen-host', '10.77.11.2')).toBe('10.77.11.2')
    expect(parseHost('listen-host', 'localhost')).toBe('127.0.0.1')
    for (const bad of ['farm.example.org', '10.0.0.5:4001', '::1', '', '10.0.0']) expect(() => parseHost('listen-host', bad)).toThrow(UsageError)
    expect(() => parseHostPort('listen', '10.0.0.5:70000')).toThrow(/HOST:PORT/)
  })
})
