// Helpers of the browser tests: Debian chromium's flags, a user's token, a checked step that logs, and polling until
// a probe holds.
export const CHROMIUM_FLAGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
    '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'
];

// A Girder token for `login` (HTTP Basic on user/authentication); an error names the user and the status.
export async function girderToken(baseUrl, login, password) {
    const auth = Buffer.from(`${login}:${password}`).toString('base64');
    const resp = await fetch(`${baseUrl}/api/v1/user/authentication`, {headers: {Authorization: `Basic ${auth}`}});
    if (!resp.ok) {
        throw new Error(`${login} cannot log in: HTTP ${resp.status}`);
    }
    return (await resp.json()).authToken.token;
}

export function check(condition, message, detail) {
    if (!condition) {
        throw new Error(`${message}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
    }
    console.log(`ok: ${message}`);
}

// The probe's first truthy value, polled every 300 ms; an error after `timeout` ms names `what`.
export async function until(what, probe, timeout) {
    const deadline = Date.now() + timeout;
    for (;;) {
        const value = await probe();
        if (value) {
            return value;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out waiting for ${what}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
    }
}
