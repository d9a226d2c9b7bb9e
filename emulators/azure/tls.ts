/**
 * A throwaway certificate authority and a loopback server certificate, generated in-process with
 * WebCrypto. Both Azure SDKs refuse bearer tokens over plain http, so the emulator must speak
 * HTTPS, and clients trust it only through the CA PEM we hand out (never a global trust store).
 */
import { webcrypto } from "node:crypto";
import { ensureReflectMetadata } from "./reflect-metadata.ts";

/** PEM material for the emulator's TLS listener and for clients that must trust it. */
export interface LoopbackTls {
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

const ecdsa = { name: "ECDSA", namedCurve: "P-256" } as const;
const signingAlgorithm = { name: "ECDSA", hash: "SHA-256" } as const;
const dayMs = 86_400_000;

/** Generates a fresh CA and a server certificate for 127.0.0.1, ::1 and localhost. */
export async function generateLoopbackTls(): Promise<LoopbackTls> {
  // @peculiar/x509 pulls in tsyringe, which throws at import without Reflect metadata, so it is
  // loaded lazily after the polyfill is in place.
  ensureReflectMetadata();
  const x509 = await import("@peculiar/x509");
  const crypto = webcrypto;
  // ECDSA P-256 keys generate in milliseconds, where RSA would add seconds to every test start.
  const caKeys = (await crypto.subtle.generateKey(ecdsa, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const serverKeys = (await crypto.subtle.generateKey(ecdsa, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - dayMs);
  const notAfter = new Date(Date.now() + 30 * dayMs);

  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: "CN=recording-relay Azure emulator local CA",
      notBefore,
      notAfter,
      keys: caKeys,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const server = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: "CN=127.0.0.1",
      issuer: ca.subject,
      notBefore,
      notAfter,
      publicKey: serverKeys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: "ip", value: "127.0.0.1" },
          { type: "ip", value: "::1" },
          { type: "dns", value: "localhost" },
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(ca, false, crypto),
      ],
    },
    crypto,
  );

  const pkcs8 = await crypto.subtle.exportKey("pkcs8", serverKeys.privateKey);
  return {
    caCertPem: ca.toString("pem"),
    serverCertPem: server.toString("pem"),
    serverKeyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
  };
}

function randomSerial(): string {
  // Positive 16-byte serial: clear the top bit so DER does not read it as negative.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}
