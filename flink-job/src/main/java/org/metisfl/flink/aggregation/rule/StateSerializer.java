package org.metisfl.flink.aggregation.rule;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

/**
 * Base of the versioned serializers of rule accumulators and states. A subclass writes the current
 * format ({@link #currentVersion()}) and reads any format it ever wrote: a savepoint taken with an
 * older format is read with that version and written back in the current one (Flink migrates the
 * state through {@link Snapshot}). Subclasses need a public no-argument constructor.
 *
 * @param <T> the accumulator or state type
 */
public abstract class StateSerializer<T> extends TypeSerializer<T> {
    private static final long serialVersionUID = 1L;

    /** The format this instance reads (the current one unless restored from an old snapshot). */
    private int readVersion;

    protected StateSerializer() {
        this.readVersion = currentVersion();
    }

    /** The format version written, {@code >= 1}; bump it when the format changes. */
    protected abstract int currentVersion();

    /** Writes {@code value} in the current format. */
    protected abstract void write(T value, DataOutputView out) throws IOException;

    /** Reads a value written in format {@code version} (1 to {@link #currentVersion()}). */
    protected abstract T read(int version, DataInputView in) throws IOException;

    /** A deep copy (the heap backend snapshots the objects it is given asynchronously). */
    @Override
    public abstract T copy(T from);

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public TypeSerializer<T> duplicate() {
        return this;
    }

    @Override
    public T copy(T from, T reuse) {
        return copy(from);
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(T record, DataOutputView target) throws IOException {
        write(record, target);
    }

    @Override
    public T deserialize(DataInputView source) throws IOException {
        return read(readVersion, source);
    }

    @Override
    public T deserialize(T reuse, DataInputView source) throws IOException {
        return deserialize(source);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        serialize(deserialize(source), target);
    }

    @Override
    public boolean equals(Object obj) {
        return obj != null
                && obj.getClass() == getClass()
                && ((StateSerializer<?>) obj).readVersion == readVersion;
    }

    @Override
    public int hashCode() {
        return getClass().hashCode() * 31 + readVersion;
    }

    @Override
    public TypeSerializerSnapshot<T> snapshotConfiguration() {
        return new Snapshot<>(getClass(), currentVersion());
    }

    /**
     * The snapshot of every {@link StateSerializer}: the serializer's class and the format version
     * the state was written in.
     */
    public static final class Snapshot<T> implements TypeSerializerSnapshot<T> {
        private Class<?> type;
        private int version;

        /** For Flink, which reads the snapshot back. */
        public Snapshot() {}

        Snapshot(Class<?> type, int version) {
            this.type = type;
            this.version = version;
        }

        @Override
        public int getCurrentVersion() {
            return version;
        }

        @Override
        public void writeSnapshot(DataOutputView out) throws IOException {
            out.writeUTF(type.getName());
        }

        @Override
        public void readSnapshot(int readVersion, DataInputView in, ClassLoader classLoader)
                throws IOException {
            String name = in.readUTF();
            try {
                this.type = Class.forName(name, true, classLoader);
            } catch (ClassNotFoundException e) {
                throw new IOException(
                        "the state was written by rule serializer "
                                + name
                                + ", which this build does not have",
                        e);
            }
            this.version = readVersion;
        }

        @Override
        @SuppressWarnings("unchecked")
        public TypeSerializer<T> restoreSerializer() {
            try {
                StateSerializer<T> s =
                        (StateSerializer<T>) type.getDeclaredConstructor().newInstance();
                if (version > s.currentVersion()) {
                    throw new IllegalStateException(
                            type.getName()
                                    + " state format "
                                    + version
                                    + " is newer than this build knows ("
                                    + s.currentVersion()
                                    + ")");
                }
                s.readVersion = version;
                return s;
            } catch (NoSuchMethodException
                    | InstantiationException
                    | IllegalAccessException
                    | InvocationTargetException e) {
                throw new IllegalStateException("cannot instantiate " + type.getName(), e);
            }
        }

        @Override
        public TypeSerializerSchemaCompatibility<T> resolveSchemaCompatibility(
                TypeSerializerSnapshot<T> oldSnapshot) {
            if (!(oldSnapshot instanceof Snapshot<T> old)
                    || !old.type.getName().equals(type.getName())) {
                return TypeSerializerSchemaCompatibility.incompatible();
            }
            return old.version == version
                    ? TypeSerializerSchemaCompatibility.compatibleAsIs()
                    : TypeSerializerSchemaCompatibility.compatibleAfterMigration();
        }
    }
}
