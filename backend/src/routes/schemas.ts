import { z } from 'zod';
import { OBJECT_TYPE_NAMES, RECORD_CARD_TYPES, type ObjectType, type RecordCardType } from '../access/model.js';

/** A HubSpot record id: digits, and a safe integer (past 2^53 it would silently name another record). */
export const recordId = z
  .string()
  .regex(/^[1-9]\d{0,15}$/, 'must be a HubSpot record id (digits)')
  .refine((value) => Number.isSafeInteger(Number(value)), 'must be a HubSpot record id (digits)');

/** A HubSpot user id in a JSON body. */
export const userId = z.number().int().positive().refine(Number.isSafeInteger, 'must be a HubSpot user id');

export const objectType = z.enum(OBJECT_TYPE_NAMES as [ObjectType, ...ObjectType[]]);
export const recordCardType = z.enum(RECORD_CARD_TYPES as [RecordCardType, ...RecordCardType[]]);

/** HubSpot's paging cursor (a search's `paging.next.after`), handed back as it came: opaque to us, so only bounded. */
export const pageCursor = z.string().regex(/^[\x21-\x7e]{1,256}$/, "must be the previous answer's nextPage");
