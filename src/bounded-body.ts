/**
 * Reads an HTTP body as a stream, keeping at most `max` bytes, and cancels it once past that: a
 * peer that sends (or streams) without end can never make us read or hold more. Used for what
 * providers, merchants' endpoints and callers of the callback routes send us.
 */
export async function readAtMost(body: ReadableStream<Uint8Array> | null, max: number): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  if (!body) return { bytes: new Uint8Array(0), truncated: false };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    chunks.push(read.value);
    size += read.value.byteLength;
    if (size > max) {
      await reader.cancel();
      break;
    }
  }
  return { bytes: Buffer.concat(chunks).subarray(0, max), truncated: size > max };
}
