/**
 * Drives Viewer Guard's install the way a browser does, over real HTTP: our /oauth/install, HubSpot's consent
 * form (the local HubSpot's), and back to our /oauth/callback with the state cookie. Used by the demo and the
 * end-to-end tests, so both exercise the real flow rather than writing tokens into the database.
 */
export interface InstallResult {
  status: number;
  /** The page the installer ends on: ours after a redirect, or HubSpot's own when it stops there. */
  page: string;
  finalUrl: string;
  /** The state cookie the browser held, as a `cookie` header value. */
  cookie: string;
}

export async function installThroughHubSpot(input: {
  backendUrl: string;
  /** The HubSpot user who clicks "Connect app" on the consent screen. */
  userId: number;
  decision?: 'allow' | 'deny';
}): Promise<InstallResult> {
  const start = await fetch(`${input.backendUrl}/oauth/install`, { redirect: 'manual' });
  const cookie = (start.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const authorizeUrl = start.headers.get('location');
  if (start.status !== 302 || authorizeUrl === null) throw new Error(`/oauth/install answered ${start.status}, not a redirect`);

  const consent = await fetch(authorizeUrl);
  if (consent.status !== 200) throw new Error(`HubSpot's authorize page answered ${consent.status}`);

  const authorize = new URL(authorizeUrl);
  const form = new URLSearchParams(authorize.searchParams);
  form.set('userId', String(input.userId));
  form.set('decision', input.decision ?? 'allow');
  const decided = await fetch(new URL('/oauth/authorize', authorize), {
    method: 'POST',
    body: form,
    redirect: 'manual',
  });
  const back = decided.headers.get('location');
  if (decided.status !== 302 || back === null) {
    return { status: decided.status, page: await decided.text(), finalUrl: authorize.toString(), cookie };
  }
  const callback = await fetch(back, { headers: { cookie }, redirect: 'manual' });
  return { status: callback.status, page: await callback.text(), finalUrl: back, cookie };
}
