import { monotonicFactory } from 'ulid';

/** Prefixes of the API's opaque, sortable ids. */
export type IdPrefix = 'pay' | 'flw' | 'rfd' | 'evt' | 'rcn' | 'req' | 'obx' | 'cbk' | 'att' | 'alr' | 'dif' | 'aud' | 'brk' | 'rsk';

const nextUlid = monotonicFactory();

/** A new prefixed id; ULIDs sort by creation time, so ids do too. */
export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  return `${prefix}_${nextUlid(nowMs)}`;
}
