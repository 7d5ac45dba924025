// Make signatures floe must verify, with code that shares nothing with floe:
// node's crypto for ECDSA P-384 (SHA-384) and @noble/curves for Ed25519ph.
//
// usage: node sign_independent.mjs MESSAGE_FILE
// prints JSON: {"p384": {"publicKey": PEM, "signature": b64},
//               "ed25519ph": {"publicKey": PEM, "signature": b64}}
import { readFileSync } from 'node:fs';
import crypto from 'node:crypto';
import { ed25519ph } from '@noble/curves/ed25519.js';

const message = readFileSync(process.argv[2]);

const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p384sig = crypto.sign('sha384', message, p384.privateKey);

const secret = ed25519ph.utils.randomSecretKey();
const edPublic = ed25519ph.getPublicKey(secret);
const edSig = ed25519ph.sign(message, secret);
// PKIX (SubjectPublicKeyInfo) DER of an Ed25519 key: fixed 12-byte prefix + raw key.
const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(edPublic)]);
const edPem = crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' })
  .export({ format: 'pem', type: 'spki' });

console.log(JSON.stringify({
  p384: {
    publicKey: p384.publicKey.export({ format: 'pem', type: 'spki' }),
    signature: p384sig.toString('base64'),
  },
  ed25519ph: { publicKey: edPem, signature: Buffer.from(edSig).toString('base64') },
}));
