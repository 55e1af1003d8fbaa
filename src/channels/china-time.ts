/** Both providers read and write times in China Standard Time (UTC+8, no daylight saving). */
export const china_offset_ms = 8 * 3_600_000;

/** `yyyy-MM-ddTHH:mm:ss` in China Standard Time, for each provider to format further. */
export const chinaDateTime = (ms: number): string => new Date(ms + china_offset_ms).toISOString().slice(0, 19);

/** When the China Standard Time day holding `ms` began: providers' daily limits and statements run by it. */
export const chinaDayStart = (ms: number): number => Math.floor((ms + china_offset_ms) / 86_400_000) * 86_400_000 - china_offset_ms;

/** `yyyy-MM-dd` in China Standard Time: the day a provider's statement covers. */
export const chinaDate = (ms: number): string => chinaDateTime(ms).slice(0, 10);
