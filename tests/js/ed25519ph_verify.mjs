// Verify an Ed25519ph signature with @noble/curves (code that shares nothing with floe).
// usage: node ed25519ph_verify.mjs PUBLIC.pem MESSAGE_FILE SIGNATURE_B64  -> exit 0 iff valid
import { readFileSync } from 'node:fs';
import crypto from 'node:crypto';
import { ed25519ph } from '@noble/curves/ed25519.js';

const [keyPath, messagePath, signature] = process.argv.slice(2);
const spki = crypto.createPublicKey(readFileSync(keyPath)).export({ format: 'der', type: 'spki' });
const raw = spki.subarray(spki.length - 32);
const ok = ed25519ph.verify(Buffer.from(signature, 'base64'), readFileSync(messagePath), raw);
console.log(JSON.stringify({ ok }));
process.exit(ok ? 0 : 1);
