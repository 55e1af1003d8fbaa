/** Both providers read and write times in China Standard Time (UTC+8, no daylight saving). */
const china_offset_ms = 8 * 3_600_000;

/** `yyyy-MM-ddTHH:mm:ss` in China Standard Time, for each provider to format further. */
export const chinaDateTime = (ms: number): string => new Date(ms + china_offset_ms).toISOString().slice(0, 19);

/** `yyyy-MM-dd` in China Standard Time: the day a provider's statement covers. */
export const chinaDate = (ms: number): string => chinaDateTime(ms).slice(0, 10);
