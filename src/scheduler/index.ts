// Public surface of the scheduler.
export { schedule } from './schedule.ts';
export { FIRST_PRIORITY, MAX_PRIORITY, MIN_PRIORITY } from './types.ts';
export type {
  Candidate,
  Instance,
  Removal,
  RemovalReason,
  ScheduleInput,
  SchedulePolicy,
  ScheduleResult,
  Skip,
  SkipReason,
} from './types.ts';
