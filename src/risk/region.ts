/**
 * Where an IP address is, from ip2region's offline database (shipped inside the npm package,
 * read from disk once per process, never the network). A region is country and province:
 * cities move with mobile carriers' gateways too often to tell a stranger from a commuter.
 */
import IP2Region from 'ip2region';

export type RegionOf = (ip: string) => string | null;

let database: IP2Region | null = null;

/** The region of an address, or null for private, reserved and unknown ones (they never look anomalous). */
export const regionOf: RegionOf = (ip) => {
  database ??= new IP2Region();
  let found: ReturnType<IP2Region['search']>;
  try {
    found = database.search(ip);
  } catch {
    // The package throws on text that is not an address; a client_ip is the merchant's word.
    return null;
  }
  if (!found || !found.country) return null;
  return found.province ? `${found.country}/${found.province}` : found.country;
};
