/**
 * The clouds fetch the relay's discovery document and JWKS from its issuer URL, so the kit first
 * fetches them itself through the public URL and checks they are this relay's.
 */

async function json(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(15_000), redirect: "manual" });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return await response.json();
}

/** Throws, saying what is wrong and how to fix it, unless `issuerUrl` serves this relay's keys. */
export async function checkPublicIssuer(issuerUrl: string, localUrl: string): Promise<void> {
  const discovery = `${issuerUrl}/.well-known/openid-configuration`;
  const how =
    "the clouds cannot reach the relay's issuer, so no trust can work. Start a tunnel or a reverse proxy with TLS from CONFORMANCE_ISSUER_URL to 127.0.0.1:CONFORMANCE_RELAY_PORT (docs/conformance.md, The issuer) and run again";
  let remote: { issuer?: string; jwks_uri?: string };
  try {
    remote = (await json(discovery)) as typeof remote;
  } catch (error) {
    const cause = error instanceof Error ? (error.cause ?? error) : error;
    throw new Error(
      `issuer check: could not fetch ${discovery} (${cause instanceof Error ? cause.message : String(cause)}): ${how}`,
    );
  }
  if (remote.issuer !== issuerUrl) {
    throw new Error(
      `issuer check: ${discovery} names issuer ${JSON.stringify(remote.issuer)}, not ${issuerUrl}: it is not this relay, or the relay runs with another RELAY_ISSUER_URL; ${how}`,
    );
  }
  const kids = (value: unknown) =>
    ((value as { keys?: { kid?: string }[] }).keys ?? [])
      .map((key) => key.kid)
      .sort()
      .join(",");
  const local = (await json(`${localUrl}/.well-known/openid-configuration`)) as {
    jwks_uri: string;
  };
  const [publicKeys, localKeys] = await Promise.all([
    json(String(remote.jwks_uri)).catch((error: Error) => {
      throw new Error(
        `issuer check: could not fetch the JWKS ${remote.jwks_uri} (${error.message}): ${how}`,
      );
    }),
    json(local.jwks_uri.replace(issuerUrl, localUrl)),
  ]);
  if (kids(publicKeys) !== kids(localKeys) || kids(localKeys) === "") {
    throw new Error(
      `issuer check: the JWKS at ${remote.jwks_uri} is not this relay's (key ids ${kids(publicKeys) || "none"}, expected ${kids(localKeys)}): another relay answers at that URL; ${how}`,
    );
  }
}
