// Verify a sigstore bundle with sigstore-js and a public key alone (no Fulcio, no
// Rekor, no timestamps: the bundle names the key by its hint), then check that the
// signed in-toto statement's subject is the expected digest.
//
// usage: node verify_bundle.js BUNDLE.json PUBLIC.pem sha256:<hex> [HASH]
//
// sigstore-js 3.x verifies a public-key bundle with node's default digest for the
// key (SHA-256 for every ECDSA curve). cosign and sigstore-go use SHA-384 for P-384
// and SHA-512 for P-521, so for those keys pass HASH (sha384 / sha512): sigstore-js
// still parses the bundle and builds the DSSE pre-authentication encoding, and node's
// crypto checks the signature with that hash.
// prints one JSON line {"ok": true, ...} or {"ok": false, "error": "..."}; exit 0 / 1.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity } = require('@sigstore/verify');

function main([bundlePath, keyPath, digest, hash]) {
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
  const publicKey = crypto.createPublicKey(fs.readFileSync(keyPath));
  const hint = bundle.verificationMaterial.content.publicKey.hint;
  const trust = {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: (wanted) => {
      if (wanted !== hint) throw new Error(`unknown key hint ${wanted}`);
      return { publicKey, validFor: () => true };
    },
  };
  const entity = toSignedEntity(bundle);
  if (hash) {
    const { preAuthEncoding, signature } = entity.signature;
    if (!crypto.verify(hash, preAuthEncoding, publicKey, signature)) {
      throw new Error(`signature verification failed (${hash})`);
    }
  } else {
    const options = { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 };
    new Verifier(trust, options).verify(entity);
  }
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.payloadType !== 'application/vnd.in-toto+json') {
    throw new Error(`payload type ${envelope.payloadType}`);
  }
  const statement = JSON.parse(envelope.payload.toString('utf8'));
  const [algo, hex] = digest.split(':');
  const subjects = statement.subject.map((s) => `${algo}:${s.digest[algo]}`);
  if (!subjects.includes(digest)) throw new Error(`subject ${subjects} is not ${digest}`);
  return { ok: true, hint, predicateType: statement.predicateType, subjects };
}

try {
  console.log(JSON.stringify(main(process.argv.slice(2))));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err && err.message ? err.message : err) }));
  process.exit(1);
}
