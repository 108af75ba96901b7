import { extendRecordCard } from './RecordCardView.tsx';

extendRecordCard('deals');
