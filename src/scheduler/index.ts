// Public surface of the scheduler.
export { schedule } from './schedule.ts';
export { FIRST_PRIORITY, MAX_INSTANCES, MAX_PRIORITY, MIN_PRIORITY } from './types.ts';
export type {
  Candidate,
  DrainingInstance,
  DrainReason,
  Instance,
  Removal,
  RemovalReason,
  ScheduleInput,
  SchedulePolicy,
  ScheduleResult,
  Skip,
  SkipReason,
} from './types.ts';
