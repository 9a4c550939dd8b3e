import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, hash, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  cosignCheckpoint,
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
  type Checkpoint,
} from '../../src/domain/audit/tlog/checkpoint.ts';
import { cosignedMessage, readCosignatureTimestamp } from '../../src/domain/audit/tlog/cosignature.ts';
import { TlogError, type TlogErrorCode } from '../../src/domain/audit/tlog/errors.ts';
import { hashLeaf } from '../../src/domain/audit/tlog/hashing.ts';
import {
  createNoteSigner,
  formatVerifierKey,
  generateNoteKey,
  isValidKeyName,
  noteKeyId,
  parseSignerKey,
  parseVerifierKey,
  type NoteVerifier,
} from '../../src/domain/audit/tlog/note-keys.ts';
import {
  createSignatureLine,
  formatNote,
  openNote,
  parseNote,
  signNote,
} from '../../src/domain/audit/tlog/signed-note.ts';
import type { Clock } from '../../src/platform/clock.ts';

// Public test vectors copied from the specifications' and libraries' own suites (test/fixtures/tlog/SOURCES.md, licences beside it).
const TESTDATA = fileURLToPath(new URL('../fixtures/tlog/', import.meta.url));

interface NoteVectors {
  c2sp_signed_note: { example_vkey: string; example_note: string; quasimodo_note: string };
  c2sp_tlog_checkpoint: { example_note: string; cosigned_example_note: string };
  golang_mod_sumdb_note: {
    peter_vkey: string;
    peter_private_key: string;
    enoch_vkey: string;
    text: string;
    peter_signature_line: string;
    enoch_signature_line: string;
    bad_vkeys: { vkey: string; why: string }[];
  };
  transparency_dev_formats: {
    sumdb_vkey: string;
    sumdb_checkpoint_note: string;
    cosigner_vkeys: string[];
    cosigner_signature_lines: string[];
  };
}

interface Ed25519Vectors {
  vectors: {
    name: string;
    secret_key_hex: string;
    public_key_hex: string;
    message_hex: string;
    signature_hex: string;
  }[];
}

const vectors = JSON.parse(readFileSync(join(TESTDATA, 'signed-note/vectors.json'), 'utf8')) as NoteVectors;
const rfc8032 = JSON.parse(readFileSync(join(TESTDATA, 'ed25519-rfc8032.json'), 'utf8')) as Ed25519Vectors;
const go = vectors.golang_mod_sumdb_note;
const sumdb = vectors.transparency_dev_formats;

function fixedClock(seconds: number): Clock {
  return { now: () => new Date(seconds * 1000), nowMs: () => seconds * 1000 };
}
const clock = fixedClock(1_700_000_000);

function codeOf(fn: () => unknown): TlogErrorCode | 'none' {
  try {
    fn();
    return 'none';
  } catch (error) {
    assert.ok(error instanceof TlogError, `expected a TlogError, got ${String(error)}`);
    return error.code;
  }
}

async function asyncCodeOf(promise: Promise<unknown>): Promise<TlogErrorCode | 'none'> {
  try {
    await promise;
    return 'none';
  } catch (error) {
    assert.ok(error instanceof TlogError, `expected a TlogError, got ${String(error)}`);
    return error.code;
  }
}

const names = (signatures: readonly { name: string }[]) => signatures.map((s) => s.name);

describe('c2sp.org/signed-note vectors', () => {
  it('the C2SP example note verifies with the example verifier key', () => {
    const verifier = parseVerifierKey(vectors.c2sp_signed_note.example_vkey);
    assert.equal(verifier.name, 'example.com/foo');
    assert.equal(verifier.keyId, 0x530d903a);
    assert.equal(verifier.keyType, 'ed25519');
    const note = openNote(vectors.c2sp_signed_note.example_note, [verifier]);
    assert.equal(note.text, 'This is an example message.\n');
    assert.deepEqual(names(note.verifiedSignatures), ['example.com/foo']);
  });

  it('the quasimodo note keeps its inner blank line in the text, and no known key signed it', () => {
    const parsed = parseNote(vectors.c2sp_signed_note.quasimodo_note);
    assert.equal(
      parsed.text,
      'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n',
    );
    assert.deepEqual(names(parsed.signatures), ['quasimodo.example/salvatore']);
    const verifier = parseVerifierKey(vectors.c2sp_signed_note.example_vkey);
    assert.equal(
      codeOf(() => openNote(vectors.c2sp_signed_note.quasimodo_note, [verifier])),
      'UnverifiedNote',
    );
  });

  it('signing the Go text with the PeterNeumann signer key reproduces its signature line and verifier key', async () => {
    const signer = parseSignerKey(go.peter_private_key, clock);
    assert.equal(signer.verifierKey, go.peter_vkey);
    assert.equal(signer.keyId, 0xc74f20a3);
    assert.equal(await signNote(go.text, [signer]), `${go.text}\n${go.peter_signature_line}`);
    assert.equal(await createSignatureLine(go.text, signer), go.peter_signature_line);
  });

  it('a doubly signed note verifies with both keys; with one key the other signature is kept unverified', () => {
    const message = `${go.text}\n${go.peter_signature_line}${go.enoch_signature_line}`;
    const peter = parseVerifierKey(go.peter_vkey);
    const enoch = parseVerifierKey(go.enoch_vkey);
    assert.deepEqual(names(openNote(message, [peter, enoch]).verifiedSignatures), [
      'PeterNeumann',
      'EnochRoot',
    ]);
    const onlyPeter = openNote(message, [peter]);
    assert.deepEqual(names(onlyPeter.verifiedSignatures), ['PeterNeumann']);
    assert.deepEqual(names(onlyPeter.unverifiedSignatures), ['EnochRoot']);
    assert.equal(onlyPeter.unverifiedSignatures[0]!.keyId, 0xaf0cfe78);
    assert.equal(
      codeOf(() => openNote(message, [])),
      'UnverifiedNote',
    );
    // Re-emitting keeps every signature byte for byte.
    const parsed = parseNote(message);
    assert.equal(formatNote(parsed.text, parsed.signatures), message);
  });

  it('the Go bad verifier keys are refused: wrong key length and unknown algorithm', () => {
    const [wrongLength, unknownAlgorithm] = go.bad_vkeys;
    assert.equal(
      codeOf(() => parseVerifierKey(wrongLength!.vkey)),
      'MalformedKey',
    );
    assert.equal(
      codeOf(() => parseVerifierKey(unknownAlgorithm!.vkey)),
      'UnsupportedKeyType',
    );
  });

  it('a real sum.golang.org checkpoint verifies and parses', () => {
    const file = readFileSync(join(TESTDATA, 'signed-note/sum.golang.org-6476701.checkpoint'));
    assert.equal(file.toString('utf8'), sumdb.sumdb_checkpoint_note);
    const { checkpoint, note } = openCheckpoint(file, [parseVerifierKey(sumdb.sumdb_vkey)]);
    assert.equal(checkpoint.origin, 'go.sum database tree');
    assert.equal(checkpoint.treeSize, 6476701);
    assert.equal(checkpoint.rootHash.toString('base64'), 'mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=');
    assert.deepEqual(checkpoint.extensionLines, []);
    assert.deepEqual(names(note.verifiedSignatures), ['sum.golang.org']);
    // Sovra formats only origins that are valid key names; this one has spaces.
    assert.equal(
      formatCheckpoint({ ...checkpoint, origin: 'x' }),
      note.text.replace('go.sum database tree', 'x'),
    );
  });

  it('the witness signatures on the sum.golang.org checkpoint verify with their keys', () => {
    const message = sumdb.sumdb_checkpoint_note + sumdb.cosigner_signature_lines.join('');
    const verifiers = [sumdb.sumdb_vkey, ...sumdb.cosigner_vkeys].map(parseVerifierKey);
    assert.deepEqual(names(openNote(message, verifiers).verifiedSignatures), [
      'sum.golang.org',
      'monkeys',
      'bananas',
      'witness',
    ]);
    // A witness key alone suffices to open the note; the log's signature is then unverified.
    const witnessOnly = openNote(message, [parseVerifierKey(sumdb.cosigner_vkeys[2]!)]);
    assert.deepEqual(names(witnessOnly.verifiedSignatures), ['witness']);
    assert.equal(witnessOnly.unverifiedSignatures.length, 3);
  });

  it('the C2SP checkpoint examples parse; the example cosignature carries time 1679315147', () => {
    const parsed = parseNote(vectors.c2sp_tlog_checkpoint.cosigned_example_note);
    const checkpoint = parseCheckpoint(parsed.text);
    assert.equal(checkpoint.origin, 'example.com/behind-the-sofa');
    assert.equal(checkpoint.treeSize, 20852163);
    assert.equal(checkpoint.rootHash.toString('base64'), 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
    assert.equal(formatCheckpoint(checkpoint), parsed.text);
    const cosignature = parsed.signatures[1]!;
    assert.equal(cosignature.name, 'witness.example.com/w1');
    assert.equal(cosignature.signature.byteLength, 8 + 64);
    assert.equal(readCosignatureTimestamp(cosignature.signature), 1679315147);
    assert.equal(parseNote(vectors.c2sp_tlog_checkpoint.example_note).text, parsed.text);
  });
});

describe('Ed25519 keys (RFC 8032 §7.1)', () => {
  for (const v of rfc8032.vectors) {
    it(`${v.name}: the seed gives the public key and the signature of the test message`, async () => {
      const signer = createNoteSigner({
        keyType: 'ed25519',
        name: 'rfc8032',
        seed: Buffer.from(v.secret_key_hex, 'hex'),
        clock,
      });
      const expectedKey = formatVerifierKey('ed25519', 'rfc8032', Buffer.from(v.public_key_hex, 'hex'));
      assert.equal(signer.verifierKey, expectedKey);
      const message = Buffer.from(v.message_hex, 'hex');
      assert.equal(Buffer.from(await signer.sign(message)).toString('hex'), v.signature_hex);
      const verifier = parseVerifierKey(expectedKey);
      assert.ok(verifier.verify(message, Buffer.from(v.signature_hex, 'hex')));
      assert.ok(
        !verifier.verify(Buffer.concat([message, Buffer.from('x')]), Buffer.from(v.signature_hex, 'hex')),
      );
    });
  }
});

describe('ML-DSA-65 note signatures', () => {
  const key = generateNoteKey('ml-dsa-65', 'sovra.test/audit/ml-dsa-65');

  it('a note signed with ML-DSA-65 verifies, and any change to its text is InvalidSignature', async () => {
    const signer = parseSignerKey(key.signerKey, clock);
    const verifier = parseVerifierKey(key.verifierKey);
    const note = await signNote('sovra.test/audit\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n', [
      signer,
    ]);
    const opened = openNote(note, [verifier]);
    assert.deepEqual(
      opened.verifiedSignatures.map((s) => [s.name, s.keyType, s.signature.byteLength]),
      [['sovra.test/audit/ml-dsa-65', 'ml-dsa-65', 3309]],
    );
    assert.equal(
      codeOf(() => openNote(note.replace('\n42\n', '\n43\n'), [verifier])),
      'InvalidSignature',
    );
    const other = generateNoteKey('ml-dsa-65', 'sovra.test/audit/ml-dsa-65');
    assert.equal(
      codeOf(() => openNote(note, [parseVerifierKey(other.verifierKey)])),
      'UnverifiedNote',
    );
  });

  it('keys are 0xff, the id-ml-dsa-65 OID and the raw 1952-byte FIPS 204 public key; the key ID hashes them', () => {
    const [name, keyIdHex, material64] = [
      key.verifierKey.slice(0, key.verifierKey.indexOf('+')),
      key.verifierKey.split('+')[1]!,
      key.verifierKey.split('+').slice(2).join('+'),
    ];
    const material = Buffer.from(material64, 'base64');
    assert.equal(material.byteLength, 1 + 11 + 1952);
    assert.deepEqual(material.subarray(0, 12), Buffer.from('ff0609608648016503040312', 'hex'));
    assert.deepEqual(material.subarray(12), key.publicKey);
    const spki = createPublicKey({
      key: key.publicKey,
      format: 'raw-public',
      asymmetricKeyType: 'ml-dsa-65',
    });
    assert.equal(spki.asymmetricKeyType, 'ml-dsa-65');
    const expectedId = hash(
      'sha256',
      Buffer.concat([Buffer.from(`${name}\n`), material]),
      'buffer',
    ).readUInt32BE(0);
    assert.equal(parseInt(keyIdHex, 16), expectedId);
    assert.equal(noteKeyId(name, material), expectedId);
    assert.ok(key.signerKey.startsWith(`PRIVATE+KEY+${name}+${keyIdHex}+`));
    const seedMaterial = Buffer.from(key.signerKey.split('+').slice(4).join('+'), 'base64');
    assert.deepEqual(seedMaterial, Buffer.concat([material.subarray(0, 12), key.seed]));
  });

  it('the signature is a pure ML-DSA-65 signature of the note text that plain FIPS 204 verification accepts', async () => {
    const signer = createNoteSigner({ keyType: 'ml-dsa-65', name: key.name, seed: key.seed, clock });
    const text = 'plain text\n';
    const { signatures } = parseNote(await signNote(text, [signer]));
    const publicKey = createPublicKey({
      key: key.publicKey,
      format: 'raw-public',
      asymmetricKeyType: 'ml-dsa-65',
    });
    assert.ok(verify(null, Buffer.from(text), publicKey, signatures[0]!.signature));
  });

  it('a verifier knowing only the Ed25519 key ignores the ML-DSA-65 signature, and the reverse', async () => {
    const ed = generateNoteKey('ed25519', 'sovra.test/audit');
    const signers = [parseSignerKey(ed.signerKey, clock), parseSignerKey(key.signerKey, clock)];
    const note = await signNote('both\n', signers);
    const byEd = openNote(note, [parseVerifierKey(ed.verifierKey)]);
    assert.deepEqual(names(byEd.verifiedSignatures), ['sovra.test/audit']);
    assert.deepEqual(names(byEd.unverifiedSignatures), ['sovra.test/audit/ml-dsa-65']);
    const byMl = openNote(note, [parseVerifierKey(key.verifierKey)]);
    assert.deepEqual(names(byMl.verifiedSignatures), ['sovra.test/audit/ml-dsa-65']);
  });

  it('a signer key whose key ID does not match its seed is KeyHashMismatch', () => {
    const parts = key.signerKey.split('+');
    parts[3] = parts[3] === '00000000' ? '00000001' : '00000000';
    assert.equal(
      codeOf(() => parseSignerKey(parts.join('+'), clock)),
      'KeyHashMismatch',
    );
  });
});

describe('cosignature/v1 (c2sp.org/tlog-cosignature)', () => {
  const log = generateNoteKey('ed25519', 'sovra.test/audit');
  const witness = generateNoteKey('cosignature/v1', 'witness.sovra.test/w1');
  const checkpoint: Checkpoint = {
    origin: 'sovra.test/audit',
    treeSize: 20852163,
    rootHash: hashLeaf(Buffer.from('root')),
    extensionLines: [],
  };

  it('a witness cosigns a signed checkpoint with a timestamped Ed25519 signature over the cosigned message', async () => {
    const signed = await signCheckpoint(checkpoint, [parseSignerKey(log.signerKey, clock)]);
    const cosigner = parseSignerKey(witness.signerKey, fixedClock(1679315147));
    const { signatureLine } = await cosignCheckpoint(signed, [parseVerifierKey(log.verifierKey)], cosigner);
    const cosigned = signed + signatureLine;
    const opened = openCheckpoint(cosigned, [
      parseVerifierKey(log.verifierKey),
      parseVerifierKey(witness.verifierKey),
    ]);
    const cosignature = opened.note.verifiedSignatures[1]!;
    assert.equal(cosignature.keyType, 'cosignature/v1');
    assert.equal(cosignature.timestamp, 1679315147);
    assert.equal(cosignature.signature.byteLength, 72);
    assert.deepEqual(cosignature.signature.subarray(0, 8), Buffer.from('00000000641850cb', 'hex'));
    // The Ed25519 signature covers "cosignature/v1\ntime <t>\n" followed by the checkpoint body.
    const message = Buffer.from(`cosignature/v1\ntime 1679315147\n${formatCheckpoint(checkpoint)}`);
    assert.deepEqual(cosignedMessage(Buffer.from(formatCheckpoint(checkpoint)), 1679315147), message);
    const publicKey = createPublicKey({
      key: witness.publicKey,
      format: 'raw-public',
      asymmetricKeyType: 'ed25519',
    });
    assert.ok(verify(null, message, publicKey, cosignature.signature.subarray(8)));
    // The key ID uses signature type 0x04.
    const material = Buffer.concat([Buffer.from([0x04]), witness.publicKey]);
    assert.equal(
      witness.verifierKey,
      `witness.sovra.test/w1+${noteKeyId('witness.sovra.test/w1', material).toString(16).padStart(8, '0')}+${material.toString('base64')}`,
    );
  });

  it('a cosignature whose timestamp was changed does not verify', async () => {
    const signed = await signCheckpoint(checkpoint, [parseSignerKey(log.signerKey, clock)]);
    const cosigner = parseSignerKey(witness.signerKey, clock);
    const { signatureLine } = await cosignCheckpoint(signed, [parseVerifierKey(log.verifierKey)], cosigner);
    const { signatures } = parseNote(signed + signatureLine);
    const moved = Buffer.from(signatures[1]!.signature);
    moved[7]! ^= 1;
    const forged = formatNote(parseNote(signed).text, [
      signatures[0]!,
      { ...signatures[1]!, signature: moved },
    ]);
    const verifiers = [parseVerifierKey(log.verifierKey), parseVerifierKey(witness.verifierKey)];
    assert.equal(
      codeOf(() => openNote(forged, verifiers)),
      'InvalidSignature',
    );
  });

  it('a witness refuses a checkpoint its log did not sign, and cosigns only with cosignature/v1 keys', async () => {
    const stranger = generateNoteKey('ed25519', 'sovra.test/audit');
    const signed = await signCheckpoint(checkpoint, [parseSignerKey(stranger.signerKey, clock)]);
    const cosigner = parseSignerKey(witness.signerKey, clock);
    assert.equal(
      await asyncCodeOf(cosignCheckpoint(signed, [parseVerifierKey(log.verifierKey)], cosigner)),
      'UnverifiedNote',
    );
    const plain = parseSignerKey(log.signerKey, clock);
    assert.equal(
      await asyncCodeOf(cosignCheckpoint(signed, [parseVerifierKey(log.verifierKey)], plain)),
      'UnsupportedKeyType',
    );
  });
});

describe('malformed notes and keys', () => {
  const key = generateNoteKey('ed25519', 'sovra.test/audit');
  const verifiers: NoteVerifier[] = [parseVerifierKey(key.verifierKey)];
  const signer = parseSignerKey(key.signerKey, clock);

  it('notes not in signed-note form are MalformedNote', async () => {
    const good = await signNote('text\n', [signer]);
    const line = good.slice('text\n\n'.length);
    const malformed: (string | Uint8Array)[] = [
      good.slice(0, -1), // no final newline
      good.replace('\n\n', '\n'), // no blank line
      `text\n\n${line.replace('\u2014 ', '- ')}`, // not an em dash
      `text\n\n${line.replace('\u2014 ', '\u2014')}`, // no space after the dash
      `text\n\n${line.replace('sovra.test/audit', 'sovra test')}`, // a space in the name
      `text\n\n${line.replace('sovra.test/audit', 'sovra.test+audit')}`, // a plus in the name
      `text\n\n${line.replace('sovra.test/audit', 'sovra\u00a0test')}`, // a Unicode space in the name
      `text\n\n${line.replace(' ', '  ')}`,
      `text\n\n${line.replace(/ (\S+)\n$/, ' $1=\n')}`, // not canonical base64
      `text\n\n${line.replace(/ (\S+)\n$/, ' \n')}`, // empty signature
      `text\n\n\u2014 sovra.test/audit AAAAAA==\n`, // a key ID and nothing else (5 bytes needed)
      `te\txt\n\n${line}`, // a control character
      `text\r\n\n${line}`,
      Buffer.concat([Buffer.from('te'), Buffer.from([0xff]), Buffer.from(`xt\n\n${line}`)]), // not UTF-8
      `te\ud800xt\n\n${line}`, // a lone surrogate
      `text\n\n${line}\n`, // a blank line after the signatures
      'text\n\n',
      `${'x'.repeat(600 * 1024)}\n\n${line}`, // over the size limit
    ];
    for (const message of malformed) {
      assert.equal(
        codeOf(() => openNote(message, verifiers)),
        'MalformedNote',
        JSON.stringify(String(message).slice(0, 60)),
      );
    }
  });

  it(`a note with more signature lines than the limit is TooManySignatures`, async () => {
    const note = await signNote('text\n', [signer]);
    const line = note.slice('text\n\n'.length);
    assert.equal(openNote(`text\n\n${line.repeat(64)}`, verifiers).verifiedSignatures.length, 1);
    assert.equal(
      codeOf(() => openNote(`text\n\n${line.repeat(65)}`, verifiers)),
      'TooManySignatures',
    );
    const { signatures } = parseNote(note);
    assert.equal(
      codeOf(() =>
        formatNote(
          'text\n',
          Array.from({ length: 65 }, () => signatures[0]!),
        ),
      ),
      'TooManySignatures',
    );
  });

  it('a known key whose signature fails rejects the whole note, even beside a good one', async () => {
    const other = generateNoteKey('ed25519', 'sovra.test/other');
    const note = await signNote('text\n', [signer, parseSignerKey(other.signerKey, clock)]);
    const { text, signatures } = parseNote(note);
    const broken = Buffer.from(signatures[1]!.signature);
    broken[0]! ^= 1;
    const forged = formatNote(text, [signatures[0]!, { ...signatures[1]!, signature: broken }]);
    assert.equal(
      codeOf(() => openNote(forged, [...verifiers, parseVerifierKey(other.verifierKey)])),
      'InvalidSignature',
    );
    // Unknown to the verifier, the broken signature is ignored.
    assert.equal(openNote(forged, verifiers).unverifiedSignatures.length, 1);
  });

  it('a signature line with a known name but another key ID is ignored, not tried', async () => {
    const twin = generateNoteKey('ed25519', 'sovra.test/audit');
    const note = await signNote('text\n', [parseSignerKey(twin.signerKey, clock), signer]);
    const opened = openNote(note, verifiers);
    assert.equal(opened.verifiedSignatures.length, 1);
    assert.equal(opened.unverifiedSignatures.length, 1);
  });

  it('two verifier keys with the same name and key ID are DuplicateKey', () => {
    assert.equal(
      codeOf(() => openNote('x\n\n\u2014 a AAAAAAA=\n', [...verifiers, ...verifiers])),
      'DuplicateKey',
    );
  });

  it('note text that does not end in a newline or holds control characters cannot be signed', async () => {
    assert.equal(await asyncCodeOf(signNote('text', [signer])), 'MalformedNote');
    assert.equal(await asyncCodeOf(signNote('', [signer])), 'MalformedNote');
    assert.equal(await asyncCodeOf(signNote('a\u0000b\n', [signer])), 'MalformedNote');
    assert.equal(await asyncCodeOf(signNote('text\n', [])), 'MalformedNote');
  });

  it('key names follow the signed-note rule: non-empty, no Unicode spaces, no plus', () => {
    for (const name of ['example.com/foo', 'PeterNeumann', 'oid/1.3.6.1', 'naïve.example'])
      assert.ok(isValidKeyName(name), name);
    for (const name of ['', 'a b', 'a+b', 'a\tb', 'a\u2003b', 'a\u3000b', 'a\u0085b', 'a\ud800']) {
      assert.ok(!isValidKeyName(name), JSON.stringify(name));
    }
    assert.equal(
      codeOf(() => generateNoteKey('ed25519', 'bad name')),
      'MalformedKey',
    );
  });

  it('malformed verifier and signer keys are refused with codes', () => {
    const [name, id, b64] = [
      key.name,
      key.verifierKey.split('+')[1]!,
      key.verifierKey.split('+').slice(2).join('+'),
    ];
    const cases: [string, TlogErrorCode][] = [
      ['', 'MalformedKey'],
      [name, 'MalformedKey'],
      [`${name}+${id}`, 'MalformedKey'],
      [`${name}+${id}+`, 'MalformedKey'],
      [`${name}+${id.slice(1)}+${b64}`, 'MalformedKey'],
      [`${name}+0x${id.slice(2)}+${b64}`, 'MalformedKey'],
      [`${name}+${id}+${b64.slice(0, -1)}`, 'MalformedKey'],
      [go.peter_vkey.replace('qq/L', 'qq_L'), 'MalformedKey'], // the URL alphabet
      [`${name}+${id}+${b64}\n`, 'MalformedKey'],
      [`bad name+${id}+${b64}`, 'MalformedKey'],
      [`${name}+${((parseInt(id, 16) ^ 1) >>> 0).toString(16).padStart(8, '0')}+${b64}`, 'KeyHashMismatch'],
    ];
    for (const [vkey, code] of cases)
      assert.equal(
        codeOf(() => parseVerifierKey(vkey)),
        code,
        vkey,
      );
    assert.equal(
      codeOf(() => parseSignerKey(key.verifierKey, clock)),
      'MalformedKey',
    );
    // A public key in a signer key's place is taken for a seed, whose public key has another ID.
    assert.equal(
      codeOf(() => parseSignerKey(`PRIVATE+KEY+${key.verifierKey}`, clock)),
      'KeyHashMismatch',
    );
    assert.equal(
      codeOf(() => formatVerifierKey('ed25519', name, Buffer.alloc(31))),
      'MalformedKey',
    );
    assert.equal(
      codeOf(() => createNoteSigner({ keyType: 'ed25519', name, seed: Buffer.alloc(31), clock })),
      'MalformedKey',
    );
    assert.equal(
      codeOf(() => generateNoteKey('rsa' as 'ed25519', name)),
      'UnsupportedKeyType',
    );
    // Type 0x02 (ECDSA, c2sp.org/signed-note) is assigned but not implemented by Sovra.
    const ecdsa = Buffer.concat([
      Buffer.from([0x02]),
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }),
    ]);
    const ecdsaKeyId = noteKeyId(name, ecdsa).toString(16).padStart(8, '0');
    assert.equal(
      codeOf(() => parseVerifierKey(`${name}+${ecdsaKeyId}+${ecdsa.toString('base64')}`)),
      'UnsupportedKeyType',
    );
  });
});

describe('c2sp.org/tlog-checkpoint bodies', () => {
  const rootHash = hashLeaf(Buffer.from('root'));
  const body = `sovra.test/audit\n1234\n${rootHash.toString('base64')}\n`;

  it('a checkpoint formats as origin, decimal size and base64 root, and parses back', () => {
    const checkpoint: Checkpoint = {
      origin: 'sovra.test/audit',
      treeSize: 1234,
      rootHash,
      extensionLines: [],
    };
    assert.equal(formatCheckpoint(checkpoint), body);
    assert.deepEqual(parseCheckpoint(body), checkpoint);
    const extended = { ...checkpoint, extensionLines: ['ext one', 'ext two'] };
    assert.equal(formatCheckpoint(extended), `${body}ext one\next two\n`);
    assert.deepEqual(parseCheckpoint(`${body}ext one\next two\n`), extended);
    assert.equal(parseCheckpoint(`o\n0\n${rootHash.toString('base64')}\n`).treeSize, 0);
    assert.equal(
      parseCheckpoint(`o\n9007199254740991\n${rootHash.toString('base64')}\n`).treeSize,
      2 ** 53 - 1,
    );
  });

  it('checkpoint bodies not in canonical form are MalformedCheckpoint', () => {
    const hash64 = rootHash.toString('base64');
    const malformed = [
      body.slice(0, -1),
      `sovra.test/audit\n1234\n`,
      `\n1234\n${hash64}\n`,
      `o\n01234\n${hash64}\n`,
      `o\n00\n${hash64}\n`,
      `o\n+1234\n${hash64}\n`,
      `o\n-1\n${hash64}\n`,
      `o\n 1234\n${hash64}\n`,
      `o\n1234 \n${hash64}\n`,
      `o\n1e3\n${hash64}\n`,
      `o\n0x10\n${hash64}\n`,
      `o\n9007199254740992\n${hash64}\n`,
      `o\n99999999999999999999\n${hash64}\n`,
      `o\n1234\n${rootHash.subarray(1).toString('base64')}\n`,
      `o\n1234\n${Buffer.concat([rootHash, Buffer.from([1])]).toString('base64')}\n`,
      `o\n1234\n${hash64.replace(/=$/, '')}\n`,
      `o\n1234\n${rootHash.toString('base64url')}\n`,
      `o\n1234\n${hash64.slice(0, 42)}B=\n`, // non-zero padding bits
      `${body}\n`,
      `${body}ext\n\n`,
      `o\t\n1234\n${hash64}\n`,
      `${body}${'e\n'.repeat(17)}`,
    ];
    for (const text of malformed)
      assert.equal(
        codeOf(() => parseCheckpoint(text)),
        'MalformedCheckpoint',
        JSON.stringify(text),
      );
  });

  it('a checkpoint is formatted only with a key-name origin, a safe size and a 32-byte root', () => {
    const checkpoint: Checkpoint = { origin: 'sovra.test/audit', treeSize: 1, rootHash, extensionLines: [] };
    assert.equal(
      codeOf(() => formatCheckpoint({ ...checkpoint, origin: 'a b' })),
      'MalformedCheckpoint',
    );
    assert.equal(
      codeOf(() => formatCheckpoint({ ...checkpoint, origin: '' })),
      'MalformedCheckpoint',
    );
    assert.equal(
      codeOf(() => formatCheckpoint({ ...checkpoint, treeSize: -1 })),
      'MalformedCheckpoint',
    );
    assert.equal(
      codeOf(() => formatCheckpoint({ ...checkpoint, rootHash: Buffer.alloc(31) })),
      'InvalidHash',
    );
    assert.equal(
      codeOf(() => formatCheckpoint({ ...checkpoint, extensionLines: [''] })),
      'MalformedCheckpoint',
    );
    assert.equal(
      codeOf(() => formatCheckpoint({ ...checkpoint, extensionLines: ['a\nb'] })),
      'MalformedCheckpoint',
    );
  });

  it('a checkpoint signed with Ed25519 and ML-DSA-65 opens with either key', async () => {
    const ed = generateNoteKey('ed25519', 'sovra.test/audit');
    const ml = generateNoteKey('ml-dsa-65', 'sovra.test/audit/ml-dsa-65');
    const checkpoint: Checkpoint = { origin: 'sovra.test/audit', treeSize: 99, rootHash, extensionLines: [] };
    const note = await signCheckpoint(checkpoint, [
      parseSignerKey(ed.signerKey, clock),
      parseSignerKey(ml.signerKey, clock),
    ]);
    assert.deepEqual(openCheckpoint(note, [parseVerifierKey(ed.verifierKey)]).checkpoint, checkpoint);
    assert.deepEqual(openCheckpoint(note, [parseVerifierKey(ml.verifierKey)]).checkpoint, checkpoint);
  });
});
