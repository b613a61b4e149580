package local.bench.connect;

import io.github.clescot.kafka.connect.http.source.queue.HttpInMemoryQueueSourceConnector;
import io.github.clescot.kafka.connect.http.source.queue.HttpInMemoryQueueSourceTask;
import java.util.List;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.source.SourceRecord;

/**
 * clescot's in-memory-queue source connector (it writes the sink's HTTP exchanges to a
 * topic), with one change: when the queue is empty, its task sleeps 1 ms before it returns.
 *
 * <p>The stock task returns an empty list at once, and Kafka Connect calls poll() again at
 * once, so an idle worker spins one core at 100% (measured: ~1 CPU-second per second). On
 * the 2-core benchmark machine that core is taken from the broker and the simulator, which
 * would make the baseline measure the spin rather than Connect. Nothing else is changed:
 * same queue, same records, same topics.
 *
 * <p>Compiled by bench/connect/run_sut.sh into the connector's plugin directory, so that it
 * shares the connector's class loader (and so its static in-memory queue) with the sink.
 */
public class PacedInMemoryQueueSourceConnector extends HttpInMemoryQueueSourceConnector {

    @Override
    public Class<? extends Task> taskClass() {
        return PacedTask.class;
    }

    /** The stock task, sleeping 1 ms on an empty queue instead of returning at once. */
    public static class PacedTask extends HttpInMemoryQueueSourceTask {
        @Override
        public List<SourceRecord> poll() {
            List<SourceRecord> records = super.poll();
            if (records.isEmpty()) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return null; // "nothing this time", as the SourceTask contract allows
            }
            return records;
        }
    }
}
