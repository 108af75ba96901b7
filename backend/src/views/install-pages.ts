import type { StateProblem } from '../oauth/state.js';
import { html, page } from './html.js';

/**
 * The server-rendered pages of the one-time install. Each says what happened and what to do next, because
 * the person reading them is often not the one who can fix it.
 */

const WHO_CAN_INSTALL = html`<p>Viewer Guard is installed <strong>once per HubSpot account</strong>, by a
<strong>Super Admin</strong> (or a user allowed to approve every permission it asks for). Everyone else simply
opens the Viewer Guard card on contact and ticket records; they never need to install or log in.</p>`;

export function landingPage(input: { installUrl: string; requiredScopes: readonly string[] }): string {
  return page(
    'Install',
    html`<h1>Install Viewer Guard</h1>
${WHO_CAN_INSTALL}
<p class="status warn">If you are not a Super Admin, HubSpot may stop on its own page with
<em>"You do not have the correct role to grant these permissions"</em> and never come back here.
That is HubSpot's check, not a fault: ask a Super Admin of your account to open this page and install instead.</p>
<p>Viewer Guard asks for: ${input.requiredScopes.map((scope, index) => html`${index > 0 ? ', ' : ''}<code>${scope}</code>`)}.
It acts with this one install, and still checks <strong>each user's own HubSpot permissions</strong> before showing or
changing a record for them.</p>
<p><a class="button" href="${input.installUrl}">Continue to HubSpot</a></p>`,
  );
}

export interface MissingOptionalScope {
  scope: string;
  disables: string;
}

export function installedPage(input: {
  portalId: number;
  installerName: string;
  grantedScopes: readonly string[];
  missingOptional: readonly MissingOptionalScope[];
}): string {
  return page(
    'Installed',
    html`<h1>Viewer Guard is ready</h1>
<p class="status ok" role="status">Installed in HubSpot account <strong>${input.portalId}</strong> by
<strong>${input.installerName}</strong>. Nobody else needs to install it: everyone in the account can now use the
Viewer Guard card on contact and ticket records.</p>
<dl><dt>Permissions granted</dt><dd>${input.grantedScopes.map((scope, index) => html`${index > 0 ? ', ' : ''}<code>${scope}</code>`)}</dd></dl>
${
  input.missingOptional.length > 0 &&
  html`<p class="status warn">This account did not grant some optional permissions. Viewer Guard works without them:</p>
<ul>${input.missingOptional.map((missing) => html`<li><code>${missing.scope}</code>: ${missing.disables}</li>`)}</ul>`
}
<p>You can close this tab and return to HubSpot.</p>`,
  );
}

export function alreadyInstalledPage(input: { portalId: number; installedBy: string; installedAt: Date }): string {
  return page(
    'Already installed',
    html`<h1>Viewer Guard was already installed</h1>
<p class="status ok" role="status">HubSpot account <strong>${input.portalId}</strong> has had Viewer Guard since
<strong>${input.installedAt.toISOString().slice(0, 10)}</strong>, installed by <strong>${input.installedBy}</strong>.
Nobody else needs to install it. Your approval renewed its connection to HubSpot; nothing else changed.</p>
<p>To use it, open any contact or ticket in HubSpot and look for the Viewer Guard card.</p>`,
  );
}

/**
 * The `error` values of an authorization response are defined by OAuth 2.0 (RFC 6749, section 4.1.2.1); HubSpot
 * uses `access_denied` when the installing user clicks Cancel.
 */
const OAUTH_ERRORS: Record<string, string> = {
  access_denied: "The install was cancelled or declined on HubSpot's consent screen, so nothing was installed.",
  invalid_scope: "HubSpot did not accept the permissions Viewer Guard asks for. The app's scope settings need fixing.",
  invalid_request: "HubSpot found the install request malformed. The app's configuration needs fixing.",
  unauthorized_client: "HubSpot does not allow this app to be installed this way. The app's configuration needs fixing.",
  unsupported_response_type: 'HubSpot does not support the install request Viewer Guard sent.',
  server_error: 'HubSpot had an internal error during the install.',
  temporarily_unavailable: 'HubSpot was temporarily unable to complete the install.',
};

export function hubspotErrorPage(input: { error: string; description: string | undefined; landingUrl: string }): string {
  const known = OAUTH_ERRORS[input.error];
  const retryable = input.error === 'access_denied' || input.error === 'server_error' || input.error === 'temporarily_unavailable';
  return page(
    'Install not completed',
    html`<h1>The install did not complete</h1>
<p class="status error" role="alert">${known ?? 'HubSpot stopped the install.'}
${input.description !== undefined && html`HubSpot said: <em>${input.description}</em>`} (code <code>${input.error}</code>)</p>
${WHO_CAN_INSTALL}
<p>${
      retryable ? 'A Super Admin can always install: ' : "Please tell the app's developer the code above. Meanwhile a Super Admin can try again: "
    }<a href="${input.landingUrl}">start the install again</a>.</p>`,
  );
}

export function stateProblemPage(input: { problem: StateProblem; landingUrl: string }): string {
  const nothingInstalled = ' Nothing was installed.';
  const explanation = {
    missing: `This page was opened without the install session that should come with it (for example, from a bookmark or another browser).${nothingInstalled}`,
    forged: `This install link was not issued by Viewer Guard (it was altered or made up), so Viewer Guard refused it.${nothingInstalled}`,
    'other-browser': `This install link does not belong to the install started in this browser (it was started in another browser, or a newer install in another tab replaced it), so Viewer Guard refused it.${nothingInstalled}`,
    expired: `This install link is more than ten minutes old, so Viewer Guard refused it.${nothingInstalled}`,
    // Not "nothing was installed": the link's first use may well have installed.
    used: 'This install link was already used. Start again from the install page.',
  }[input.problem];
  return page(
    'Install link not valid',
    html`<h1>Please start the install again</h1>
<p class="status error" role="alert">${explanation}</p>
<p><a class="button" href="${input.landingUrl}">Start the install again</a></p>`,
  );
}

export function exchangeFailedPage(input: { reason: string; landingUrl: string }): string {
  return page(
    'Install not completed',
    html`<h1>The install did not complete</h1>
<p class="status error" role="alert">${input.reason} Nothing was installed.</p>
<p><a class="button" href="${input.landingUrl}">Start the install again</a></p>`,
  );
}

/**
 * HubSpot installed the app for one user (its per-user app model, platform 2026.09) rather than for the account:
 * Viewer Guard's promise rests on one account-wide install checked per viewer, so such a token is not kept.
 */
export function userLevelInstallPage(input: { portalId: number; landingUrl: string }): string {
  return page(
    'Account-level app',
    html`<h1>Viewer Guard is installed for the whole account, not per user</h1>
<p class="status warn" role="alert">HubSpot installed Viewer Guard in account <strong>${input.portalId}</strong> as a
<strong>user-level</strong> app, for you alone. Viewer Guard is an <strong>account-level</strong> app: a Super Admin
installs it once, and it then checks each person's own HubSpot permissions whenever they use its cards. Nothing was
stored.</p>
<p>Ask a Super Admin of this account to install it from the install page; nobody else needs to.</p>
<p><a class="button" href="${input.landingUrl}">Open the install page</a></p>`,
  );
}
