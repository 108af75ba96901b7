import { extendRecordCard } from './RecordCardView.tsx';

extendRecordCard('companies');
