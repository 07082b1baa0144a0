// Wording shared by our pages.

// "1 slide", "1,204 slides".
export function plural(count, noun) {
    return `${count.toLocaleString()} ${noun}${count === 1 ? '' : 's'}`;
}
