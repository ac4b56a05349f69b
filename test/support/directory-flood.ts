/**
 * Test fixture: a hostile host flooding a relay's directory with records of fresh identities, each
 * as large as a valid record gets (`test/grid/directory-abuse.test.ts`, `test/e2e-cli/directory-flood.test.ts`).
 */
import { createLibp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { announceToDirectory, MAX_ADDRS, signFarmerRecord } from '../../src/net/protocols/directory.ts'
import type { FarmerRecord } from '../../src/net/protocols/directory.ts'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A bare node with a fresh identity: what an attacker makes by the thousand. */
export async function identity (): Promise<{ node: Libp2p, key: PrivateKey }> {
  const key = await generateKeyPair('Ed25519')
  const node = await createLibp2p({ privateKey: key, transports: [webSockets()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } })
  return { node, key }
}

export function record (peerId: string, over: Partial<FarmerRecord> = {}): FarmerRecord {
  return {
    peerId, addrs: ['/ip4/127.0.0.1/tcp/1234/ws'], region: 'eu-west', tier: 'live', kind: 'full',
    capacity: 2 ** 50, free: 2 ** 50, version: '0.1.0', seq: Date.now(), ...over
  }
}

/** `n` records from `n` fresh identities, each announced once and hung up, ~50 a second (under the per-host connection limits). */
export async function announceMany (relayAddr: string, n: number, make: (peerId: string) => FarmerRecord): Promise<PromiseSettledResult<unknown>[]> {
  const out: PromiseSettledResult<unknown>[] = []
  for (let i = 0; i < n; i += 10) {
    const started = Date.now()
    out.push(...await Promise.allSettled(Array.from({ length: Math.min(10, n - i) }, async () => {
      const { node, key } = await identity()
      try {
        return await announceToDirectory(node, multiaddr(relayAddr), await signFarmerRecord(key, make(node.peerId.toString())))
      } finally {
        await node.stop()
      }
    })))
    await sleep(Math.max(0, 200 - (Date.now() - started)))
  }
  return out
}

/** Eight addresses of exactly `MAX_ADDR_BYTES` once `/p2p/<id>` is added: long LDH names, TLS with SNI, relayed WebRTC. */
export function exoticAddrs (relayId: string, seed: number): string[] {
  const name = (len: number, i: number): string => `${(seed * 8 + i).toString(36).padStart(6, 'x')}${'a'.repeat(57)}.${'b'.repeat(len - 64)}`
  return Array.from({ length: MAX_ADDRS }, (_, i) => i % 2 === 0
    ? `/dns4/${name(85, i)}/tcp/65535/tls/sni/${name(86, i)}/ws`
    : `/dns6/${name(103, i)}/tcp/65535/wss/p2p/${relayId}/p2p-circuit/webrtc`)
}

