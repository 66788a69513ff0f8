/** What happened to a batch, reported back so checkpoints can move. */
export type Outcome = 'delivered' | 'spooled' | 'dead-lettered' | 'dropped';
